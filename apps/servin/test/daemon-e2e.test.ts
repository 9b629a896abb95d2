/** The daemon's lifecycle as a user sees it: token auth, warnings, restart with state kept, clean shutdown. */
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriGrpcClient } from "@servin/cri-grpc";
import { createCriClient } from "@servin/cri-http";
import { isCriError } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { removeDir, runCli, startServin } from "./_binary.js";

const memory = ["--backend", "memory", "--image-backend", "memory"];

describe("servin cri start", () => {
  it("requires the bearer token from --token-file on every route but /health", async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-token-"));
    await writeFile(join(dir, "token"), "correct-horse\n");
    const servin = await startServin([...memory, "--token-file", join(dir, "token")], { dir });
    try {
      expect((await fetch(`${servin.url}/health`)).status).toBe(200);
      const denied = await fetch(`${servin.url}/v1/runtime/version`, { method: "POST", body: "{}" });
      expect(denied.status).toBe(401);
      const cri = createCriClient({ baseUrl: servin.url, token: "correct-horse" });
      expect((await cri.version({})).runtimeName).toBe("servin");
      const status = await runCli([
        "cri",
        "status",
        "--port",
        String(servin.port),
        "--token-file",
        join(dir, "token"),
      ]);
      expect(status.code, status.stderr).toBe(0);
      const noToken = await runCli(["cri", "status", "--port", String(servin.port)]);
      expect(noToken.code).toBe(1);
      expect(noToken.stderr + noToken.stdout).toContain("missing or invalid bearer token");
    } finally {
      await servin.stop();
      await removeDir(dir);
    }
  });

  it("refuses to listen beyond loopback without --token-file, and warns with one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-wide-"));
    try {
      await expect(startServin([...memory, "--host", "0.0.0.0", "--no-grpc"], { dir })).rejects.toThrow(
        "--host 0.0.0.0: listening beyond loopback requires --token-file",
      );
      await writeFile(join(dir, "token"), "correct-horse\n");
      const servin = await startServin(
        [...memory, "--host", "0.0.0.0", "--no-grpc", "--token-file", join(dir, "token")],
        {
          dir,
        },
      );
      try {
        expect(servin.output()).toContain(
          "anyone who can reach this address and holds the token can run containers",
        );
      } finally {
        await servin.stop();
      }
    } finally {
      await removeDir(dir);
    }
  });

  it("keeps pods and containers across a restart, and a SIGKILLed run does not block the next", async () => {
    const first = await startServin(memory);
    const dir = first.dir;
    let cri = createCriClient({ baseUrl: first.url });
    // (the memory image backend keeps images in memory only; the disk backend's persistence is tested with a registry)
    await cri.pullImage({ image: { image: "busybox:1.36" } });
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "keep", namespace: "default", uid: "k1" } },
    });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox:1.36" } },
    });
    expect(await first.stop("SIGTERM")).toBe(0);
    expect(existsSync(first.socket)).toBe(false);

    const second = await startServin(memory, { dir });
    cri = createCriClient({ baseUrl: second.url });
    const { items } = await cri.listPodSandbox({});
    expect(items.map((p) => p.id)).toEqual([podSandboxId]);
    const { containers } = await cri.listContainers({});
    expect(containers.map((c) => c.id)).toEqual([containerId]);
    // By default (as CRI-O, and containerd 1.6) PodSandboxStatus carries neither evented-PLEG field.
    const grpc = createCriGrpcClient(`unix://${second.socket}`, { timeoutMs: 60_000 });
    try {
      const plain = await grpc.podSandboxStatus({ podSandboxId });
      expect(plain.status.id).toBe(podSandboxId);
      expect(plain.containersStatuses ?? []).toEqual([]);
      expect(plain.timestamp ?? 0n).toBe(0n);
      // The HTTP JSON answer leaves them out as it leaves out other unset optional fields (info).
      const res = await fetch(`${second.url}/v1/runtime/sandbox/status`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pod_sandbox_id: podSandboxId }),
      });
      expect(Object.keys((await res.json()) as object)).toEqual(["status"]);
    } finally {
      grpc.close();
    }
    // A crash: the lock file and the gRPC socket are left behind; the next start must replace both.
    await second.stop("SIGKILL");

    // The third start reads `[runtime] enable_pod_events = true`: the same pod now answers both fields.
    await writeFile(join(dir, "events.toml"), "[runtime]\nenable_pod_events = true\n");
    const third = await startServin(memory, { dir, config: join(dir, "events.toml") });
    try {
      const grpc = createCriGrpcClient(`unix://${third.socket}`, { timeoutMs: 60_000 });
      try {
        const before = BigInt(Date.now()) * 1_000_000n;
        const evented = await grpc.podSandboxStatus({ podSandboxId });
        // (the memory backend's simulated containers die with its process: the container is UNKNOWN now)
        expect(evented.containersStatuses?.map((c) => c.id)).toEqual([containerId]);
        expect(evented.timestamp! >= before).toBe(true);
      } finally {
        grpc.close();
      }
      cri = createCriClient({ baseUrl: third.url });
      expect((await cri.listPodSandbox({})).items).toHaveLength(1);
      await cri.removePodSandbox({ podSandboxId });
      const gone = await cri.containerStatus({ containerId }).catch((e: unknown) => e);
      expect(isCriError(gone) && gone.code).toBe("NotFound");
    } finally {
      expect(await third.stop("SIGINT")).toBe(0);
      await removeDir(dir);
    }
  });

  it("refuses a second server on the same root", async () => {
    const servin = await startServin([...memory, "--no-grpc"]);
    try {
      const second = await runCli([
        "cri",
        "start",
        ...memory,
        "--port",
        "0",
        "--no-grpc",
        "--root",
        join(servin.dir, "data"),
        "--state-dir",
        join(servin.dir, "run2"),
        "--config",
        join(servin.dir, "none.toml"),
      ]);
      expect(second.code).toBe(1);
      expect(second.stderr + second.stdout).toMatch(/another servin \(pid \d+\) is using/);
    } finally {
      await servin.stop();
      await removeDir(servin.dir);
    }
  });
});
