import { describe, expect, it } from "vitest";
import { BUSYBOX_ID, containerConfig, createHarness, podConfig } from "./_test-harness.js";

describe("createRuntimeService", () => {
  it("counts pods, containers and running containers; knows which images are in use", async () => {
    const h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("a") });
    await h.runtime.createContainer({ podSandboxId, config: containerConfig("b") });
    await h.runtime.startContainer({ containerId });
    expect(h.runtime.counts()).toEqual({ sandboxes: 1, containers: 2, running: 1 });
    expect(h.runtime.isImageInUse(BUSYBOX_ID)).toBe(true);
    expect(h.runtime.isImageInUse(`sha256:${"0".repeat(64)}` as typeof BUSYBOX_ID)).toBe(false);
    await h.close();
  });

  it("after close every RPC is Unavailable, event streams end, and containers keep running", async () => {
    const h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("a") });
    await h.runtime.startContainer({ containerId });
    const stream = h.runtime.getContainerEvents({});
    await h.runtime.close();
    await h.runtime.close(); // idempotent
    const seen = [];
    for await (const e of stream) seen.push(e);
    expect(seen).toEqual([]);
    await expect(h.runtime.listPodSandbox({})).rejects.toMatchObject({ code: "Unavailable" });
    expect(() => h.runtime.getContainerEvents({})).toThrow(expect.objectContaining({ code: "Unavailable" }));
    expect((await h.backend.inspectContainer({ id: containerId } as never)).state).toBe("running");
  });

  it("close() aborts a create in flight, whose undo steps clean up", async () => {
    const h = await createHarness();
    h.backend.hold("runSandbox");
    const creating = h.runtime.runPodSandbox({ config: podConfig() });
    await new Promise((r) => setImmediate(r));
    await h.runtime.close();
    await expect(creating).rejects.toBeDefined();
    expect(h.backend.sandboxIds()).toEqual([]);
    expect((await h.store.load()).sandboxes).toEqual([]);
  });

  it("wraps unexpected faults as Internal naming the RPC", async () => {
    const h = await createHarness();
    h.backend.conditions = async () => {
      throw new TypeError("boom");
    };
    await expect(h.runtime.status({})).rejects.toMatchObject({
      code: "Internal",
      message: expect.stringContaining("boom"),
    });
    await h.close();
  });
});

describe("close() and calls in progress", () => {
  it("lets a call in progress finish before closing the store under it", async () => {
    const h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("a") });
    await h.runtime.startContainer({ containerId });
    const release = h.backend.hold("stopContainer");
    const stopping = h.runtime.stopContainer({ containerId, timeout: 30 });
    await new Promise((r) => setImmediate(r));
    const closing = h.runtime.close();
    release();
    await stopping;
    await closing;
    expect((await h.store.load()).containers[0]?.status.exitCode).toBe(143);
  });
});
