import { afterEach, describe, expect, it } from "vitest";
import { ALPINE_ID, containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("containerStatus", () => {
  it("reports config fields, the image by tag and ref, and a derived reason", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const config = containerConfig("c", {
      image: { image: "alpine:latest" },
      labels: { a: "1" },
      annotations: { b: "2" },
      mounts: [{ containerPath: "/data", hostPath: "/tmp/data", readonly: true }],
      linux: { resources: { cpuShares: 2 } },
      stopSignal: "SIGINT",
      command: ["true"],
    });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config });
    await h.runtime.startContainer({ containerId });
    for (;;) {
      const { status } = await h.runtime.containerStatus({ containerId });
      if (status.state === "CONTAINER_EXITED") break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const { status, info } = await h.runtime.containerStatus({ containerId });
    expect(status).toMatchObject({
      id: containerId,
      metadata: { name: "c", attempt: 0 },
      state: "CONTAINER_EXITED",
      exitCode: 0,
      reason: "Completed",
      image: { image: "docker.io/library/alpine:latest" },
      imageRef: ALPINE_ID,
      imageId: ALPINE_ID,
      labels: { a: "1" },
      annotations: { b: "2" },
      mounts: config.mounts,
      resources: { linux: { cpuShares: 2 } },
      stopSignal: "SIGINT",
    });
    expect(status.finishedAt >= status.startedAt && status.startedAt >= status.createdAt).toBe(true);
    expect(info).toBeUndefined();
  });

  it("verbose: info.info is JSON with sandbox ID, runtime, backend state and config", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    const { info } = await h.runtime.containerStatus({ containerId, verbose: true });
    expect(JSON.parse(info!.info!)).toMatchObject({
      sandboxID: podSandboxId,
      runtime: { name: "servin", backend: "memory" },
      backendState: { simulated: true },
      config: { metadata: { name: "c" } },
    });
  });

  it("an ambiguous prefix is InvalidArgument naming it; an empty ID is InvalidArgument", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const ids: string[] = [];
    let prefix: string | undefined;
    for (let i = 0; prefix === undefined; i++) {
      const { containerId } = await h.runtime.createContainer({
        podSandboxId,
        config: containerConfig(`c${i}`),
      });
      prefix = ids.find((id) => id[0] === containerId[0])?.slice(0, 1);
      ids.push(containerId);
    }
    await expect(h.runtime.containerStatus({ containerId: prefix })).rejects.toMatchObject({
      code: "InvalidArgument",
      message: `containerId: container ID prefix "${prefix}" is ambiguous`,
    });
    await expect(h.runtime.containerStatus({ containerId: "" })).rejects.toMatchObject({
      code: "InvalidArgument",
    });
  });
});
