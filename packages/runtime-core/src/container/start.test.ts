import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function created(harness: Harness, argv = ["sleep", "3600"]) {
  const { podSandboxId } = await harness.runtime.runPodSandbox({ config: podConfig() });
  const { containerId } = await harness.runtime.createContainer({
    podSandboxId,
    config: containerConfig("c", { command: argv.slice(0, 1), args: argv.slice(1) }),
  });
  return { podSandboxId, containerId };
}

describe("startContainer", () => {
  it("CREATED → RUNNING, persisted, with startedAt", async () => {
    h = await createHarness();
    const { containerId } = await created(h);
    await h.runtime.startContainer({ containerId });
    const { status } = await h.runtime.containerStatus({ containerId });
    expect(status.state).toBe("CONTAINER_RUNNING");
    expect((await h.store.load()).containers[0]?.status.startedAt).toBe(status.startedAt);
    expect(h.runtime.counts()).toEqual({ sandboxes: 1, containers: 1, running: 1 });
  });

  it("refuses anything but CREATED with FailedPrecondition naming the state", async () => {
    h = await createHarness();
    const { containerId } = await created(h);
    await h.runtime.startContainer({ containerId });
    await expect(h.runtime.startContainer({ containerId })).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("CONTAINER_RUNNING"),
    });
  });

  it("refuses when the pod is not ready", async () => {
    h = await createHarness();
    const { podSandboxId, containerId } = await created(h);
    await h.runtime.stopPodSandbox({ podSandboxId });
    await expect(h.runtime.startContainer({ containerId })).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
  });

  it("a backend failure leaves the container EXITED with 128 / StartError (containerd)", async () => {
    h = await createHarness();
    const { containerId } = await created(h);
    h.backend.failNext("startContainer", new Error("exec: no such file"));
    await expect(h.runtime.startContainer({ containerId })).rejects.toMatchObject({ code: "Internal" });
    const { status } = await h.runtime.containerStatus({ containerId });
    expect(status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 128, reason: "StartError" });
    expect(status.message).toContain("exec: no such file");
  });

  it("a process that exits by itself is recorded from the backend's exit report", async () => {
    h = await createHarness();
    const { containerId } = await created(h, ["sh", "-c", "exit 7"]);
    const controller = new AbortController();
    const events = h.runtime.getContainerEvents({}, { signal: controller.signal })[Symbol.asyncIterator]();
    await h.runtime.startContainer({ containerId });
    expect((await events.next()).value?.containerEventType).toBe("CONTAINER_STARTED_EVENT");
    const stopped = (await events.next()).value;
    expect(stopped?.containerEventType).toBe("CONTAINER_STOPPED_EVENT");
    expect(stopped?.containersStatuses[0]).toMatchObject({
      state: "CONTAINER_EXITED",
      exitCode: 7,
      reason: "Error",
    });
    controller.abort();
  });
});
