/**
 * End to end over real gRPC: the built `servin` binary serves runtime.v1 and
 * runtime.v1alpha2 on its unix socket beside HTTP; a CRI client built from the
 * project's proto (@servin/cri-grpc) drives the whole kubelet-style flow.
 */
import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import { type CriGrpcClient, createCriGrpcClient } from "@servin/cri-grpc";
import { createCriClient } from "@servin/cri-http";
import { type CriErrorCode, isCriError } from "@servin/cri-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServin, removeDir, startServin } from "./_binary.js";

let servin: RunningServin;
const clients: CriGrpcClient[] = [];

function client(apiVersion: "v1" | "v1alpha2" = "v1"): CriGrpcClient {
  const c = createCriGrpcClient(`unix://${servin.socket}`, { apiVersion, timeoutMs: 60_000 });
  clients.push(c);
  return c;
}

async function codeOf(p: Promise<unknown>): Promise<CriErrorCode | "ok"> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (isCriError(err)) return err.code;
    throw err;
  }
}

beforeAll(async () => {
  servin = await startServin(["--backend", "memory", "--image-backend", "memory"]);
});
afterAll(async () => {
  for (const c of clients) c.close();
  expect(await servin.stop("SIGTERM")).toBe(0);
  await removeDir(servin.dir);
});

describe("servin cri start serves gRPC on its unix socket", () => {
  it("creates the socket 0660 in a 0755 directory", async () => {
    expect((await stat(servin.socket)).mode & 0o777).toBe(0o660);
    expect((await stat(dirname(servin.socket))).mode & 0o777).toBe(0o755);
  });

  it("answers Version on runtime.v1 and runtime.v1alpha2", async () => {
    expect(await client("v1").version({})).toMatchObject({
      version: "0.1.0",
      runtimeName: "servin",
      runtimeApiVersion: "v1",
    });
    expect(await client("v1alpha2").version({})).toMatchObject({
      runtimeName: "servin",
      runtimeApiVersion: "v1alpha2",
    });
  });

  for (const apiVersion of ["v1", "v1alpha2"] as const) {
    it(`runs the kubelet flow on runtime.${apiVersion}`, async () => {
      const cri = client(apiVersion);
      const status = await cri.status({});
      expect(status.status.conditions.find((c) => c.type === "RuntimeReady")?.status).toBe(true);

      const { imageRef } = await cri.pullImage({ image: { image: "busybox:latest" } });
      expect(imageRef).toMatch(/sha256:/);
      const { images } = await cri.listImages({});
      expect(images.some((i) => i.repoTags.includes("docker.io/library/busybox:latest"))).toBe(true);
      const { image } = await cri.imageStatus({ image: { image: "busybox" } });
      expect(image?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      const fs = await cri.imageFsInfo({});
      expect(Array.isArray(fs.imageFilesystems)).toBe(true);

      const events: string[] = [];
      const controller = new AbortController();
      const watching = (async () => {
        try {
          for await (const e of cri.getContainerEvents({}, { signal: controller.signal }))
            events.push(e.containerEventType);
        } catch (err) {
          if (!controller.signal.aborted) throw err;
        }
      })();
      await new Promise((r) => setTimeout(r, 200));

      const name = `grpc-${apiVersion}`;
      const { podSandboxId } = await cri.runPodSandbox({
        config: {
          metadata: { name, namespace: "default", uid: name, attempt: 0 },
          hostname: name,
          logDirectory: "/var/log/pods",
        },
      });
      const { containerId } = await cri.createContainer({
        podSandboxId,
        config: {
          metadata: { name: "app" },
          image: { image: "busybox" },
          command: ["/bin/sh"],
          args: ["-c", "sleep 3600"],
          logPath: "app/0.log",
          labels: { tier: "web" },
        },
      });
      await cri.startContainer({ containerId });

      const byPrefix = await cri.listContainers({ filter: { id: containerId.slice(0, 12) } });
      expect(byPrefix.containers.map((c) => c.id)).toEqual([containerId]);
      const byPod = await cri.listContainers({ filter: { podSandboxId: podSandboxId.slice(0, 8) } });
      expect(byPod.containers.map((c) => c.id)).toEqual([containerId]);
      const byLabel = await cri.listContainers({ filter: { labelSelector: { tier: "web" } } });
      expect(byLabel.containers.map((c) => c.id)).toContain(containerId);
      const running = await cri.listContainers({ filter: { state: { state: "CONTAINER_RUNNING" } } });
      expect(running.containers.map((c) => c.id)).toContain(containerId);

      const { status: cs } = await cri.containerStatus({ containerId: containerId.slice(0, 12) });
      expect(cs.state).toBe("CONTAINER_RUNNING");
      expect(cs.startedAt).toBeGreaterThan(0n);
      expect(cs.logPath).toBe("/var/log/pods/app/0.log");

      const exec = await cri.execSync({ containerId, cmd: ["echo", "hi"], timeout: 5 });
      expect(Buffer.from(exec.stdout).toString()).toBe("hi\n");
      expect(exec.exitCode).toBe(0);

      await cri.stopContainer({ containerId, timeout: 1 });
      expect((await cri.containerStatus({ containerId })).status.state).toBe("CONTAINER_EXITED");
      await cri.removeContainer({ containerId });
      await cri.stopPodSandbox({ podSandboxId });
      await cri.removePodSandbox({ podSandboxId });
      expect((await cri.listPodSandbox({ filter: { id: podSandboxId } })).items).toEqual([]);

      await new Promise((r) => setTimeout(r, 200));
      controller.abort();
      await watching;
      expect(events).toEqual(
        expect.arrayContaining([
          "CONTAINER_CREATED_EVENT",
          "CONTAINER_STARTED_EVENT",
          "CONTAINER_STOPPED_EVENT",
          "CONTAINER_DELETED_EVENT",
        ]),
      );

      await cri.removeImage({ image: { image: "busybox:latest" } });
      expect((await cri.imageStatus({ image: { image: "busybox:latest" } })).image).toBeUndefined();
    });
  }

  it("maps each error class to its gRPC code", async () => {
    const cri = client();
    expect(await codeOf(cri.containerStatus({ containerId: "f".repeat(64) }))).toBe("NotFound");
    expect(await codeOf(cri.runPodSandbox({ config: { metadata: { name: "" } } }))).toBe("InvalidArgument");
    const config = { metadata: { name: "twice", namespace: "default", uid: "t" } };
    const { podSandboxId } = await cri.runPodSandbox({ config });
    expect(await codeOf(cri.runPodSandbox({ config }))).toBe("AlreadyExists");
    await cri.pullImage({ image: { image: "busybox" } });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox" } },
    });
    await cri.startContainer({ containerId });
    expect(await codeOf(cri.startContainer({ containerId }))).toBe("FailedPrecondition");
    expect(await codeOf(cri.exec({ containerId, cmd: ["sh"] }))).toBe("Unimplemented");
    await cri.removePodSandbox({ podSandboxId });
  });

  it("serves the same state as the HTTP API", async () => {
    const cri = client();
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "both", namespace: "default", uid: "b" } },
    });
    const http = createCriClient({ baseUrl: servin.url });
    expect((await http.listPodSandbox({ filter: { id: podSandboxId } })).items).toHaveLength(1);
    await http.removePodSandbox({ podSandboxId });
    expect((await cri.listPodSandbox({ filter: { id: podSandboxId } })).items).toHaveLength(0);
  });
});
