import type { ContainerConfig } from "@servin/cri-types";
import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function running(harness: Harness, config: ContainerConfig = containerConfig("c")) {
  const { podSandboxId } = await harness.runtime.runPodSandbox({ config: podConfig() });
  const { containerId } = await harness.runtime.createContainer({ podSandboxId, config });
  await harness.runtime.startContainer({ containerId });
  return containerId;
}

describe("stopContainer (memory backend: the process dies of the first signal it gets)", () => {
  it("timeout 0 kills: exit 137, reason Error", async () => {
    h = await createHarness();
    const containerId = await running(h);
    await h.runtime.stopContainer({ containerId, timeout: 0 });
    expect((await h.runtime.containerStatus({ containerId })).status).toMatchObject({
      state: "CONTAINER_EXITED",
      exitCode: 137,
      reason: "Error",
    });
  });

  it("timeout > 0 sends the stop signal: SIGTERM → 143", async () => {
    h = await createHarness();
    const containerId = await running(h);
    await h.runtime.stopContainer({ containerId, timeout: 10 });
    expect((await h.runtime.containerStatus({ containerId })).status.exitCode).toBe(143);
  });

  it("the image's stop signal applies, the config's wins over it", async () => {
    h = await createHarness();
    const fromImage = await running(h, containerConfig("img", { image: { image: "alpine:latest" } }));
    await h.runtime.stopContainer({ containerId: fromImage, timeout: 5 });
    expect((await h.runtime.containerStatus({ containerId: fromImage })).status.exitCode).toBe(128 + 3); // SIGQUIT
    const fromConfig = await running(
      h,
      containerConfig("cfg", { image: { image: "alpine:latest" }, stopSignal: "SIGINT" }),
    );
    await h.runtime.stopContainer({ containerId: fromConfig, timeout: 5 });
    expect((await h.runtime.containerStatus({ containerId: fromConfig })).status.exitCode).toBe(128 + 2);
  });

  it("is a no-op on CREATED and EXITED containers and emits STOPPED once", async () => {
    h = await createHarness();
    const containerId = await running(h);
    const controller = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of h.runtime.getContainerEvents({}, { signal: controller.signal })) {
        seen.push(e.containerEventType);
      }
    })();
    await h.runtime.stopContainer({ containerId, timeout: 0 });
    const first = (await h.runtime.containerStatus({ containerId })).status;
    await h.runtime.stopContainer({ containerId, timeout: 0 });
    expect((await h.runtime.containerStatus({ containerId })).status).toEqual(first);
    controller.abort();
    await done;
    expect(seen).toEqual(["CONTAINER_STOPPED_EVENT"]);
  });

  it("an UNKNOWN container is recorded EXITED with 255 / Unknown", async () => {
    h = await createHarness();
    const containerId = await running(h);
    h.backend.simulateVanish(containerId as never);
    await h.restart();
    expect((await h.runtime.containerStatus({ containerId })).status.state).toBe("CONTAINER_UNKNOWN");
    await h.runtime.stopContainer({ containerId, timeout: 0 });
    expect((await h.runtime.containerStatus({ containerId })).status).toMatchObject({
      state: "CONTAINER_EXITED",
      exitCode: 255,
      reason: "Unknown",
    });
  });

  it("an unknown ID is NotFound (containerd)", async () => {
    h = await createHarness();
    await expect(h.runtime.stopContainer({ containerId: "ab".repeat(32) })).rejects.toMatchObject({
      code: "NotFound",
      message: `container "${"ab".repeat(32)}" not found`,
    });
  });
});

describe("exitStatus", () => {
  it("never finishes a container before it started (an exit file's mtime is a coarse clock)", async () => {
    const { exitStatus } = await import("./stop.js");
    const { pendingContainerStatus } = await import("../store/container-status.js");
    const status = { ...pendingContainerStatus(), createdAt: 1_000n, startedAt: 2_000_000_500n };
    const entry = { status } as Parameters<typeof exitStatus>[0];
    const early = exitStatus(entry, { exitCode: 0, finishedAt: 2_000_000_000n, reason: "Completed" });
    expect(early.finishedAt).toBe(2_000_000_500n);
    const later = exitStatus(entry, { exitCode: 0, finishedAt: 3_000_000_000n, reason: "Completed" });
    expect(later.finishedAt).toBe(3_000_000_000n);
  });
});
