import { afterEach, describe, expect, it } from "vitest";
import { createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("runPodSandbox", () => {
  it("persists the pod, marks it READY and emits CREATED then STARTED for the pod ID", async () => {
    h = await createHarness();
    const events = h.runtime.getContainerEvents({}, { signal: AbortSignal.timeout(60_000) });
    const it_ = events[Symbol.asyncIterator]();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig("web") });
    expect((await it_.next()).value).toMatchObject({
      containerId: podSandboxId,
      containerEventType: "CONTAINER_CREATED_EVENT",
    });
    expect((await it_.next()).value).toMatchObject({
      containerId: podSandboxId,
      containerEventType: "CONTAINER_STARTED_EVENT",
    });
    await it_.return?.();
    const { sandboxes } = await h.store.load();
    expect(sandboxes).toHaveLength(1);
    expect(sandboxes[0]?.status.state).toBe("SANDBOX_READY");
    expect(sandboxes[0]?.metadata.backendState).toEqual({ simulated: true });
    expect(h.backend.sandboxIds()).toEqual([podSandboxId]);
  });

  it("rejects a config without a name, naming the field", async () => {
    h = await createHarness();
    await expect(h.runtime.runPodSandbox({ config: { metadata: { name: "" } } })).rejects.toMatchObject({
      code: "InvalidArgument",
      message: "config.metadata.name: expected a non-empty string",
    });
  });

  it("accepts only configured runtime handlers", async () => {
    h = await createHarness({ backend: { handlers: ["runc"] } });
    await h.runtime.runPodSandbox({ config: podConfig("a"), runtimeHandler: "runc" });
    await expect(
      h.runtime.runPodSandbox({ config: podConfig("b"), runtimeHandler: "kata" }),
    ).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining('"kata"'),
    });
  });

  it("runs the undo steps when the backend fails: name free, no record, nothing in the backend", async () => {
    h = await createHarness();
    h.backend.failNext("runSandbox", new Error("netns busy"));
    await expect(h.runtime.runPodSandbox({ config: podConfig("undo") })).rejects.toMatchObject({
      code: "Internal",
      message: expect.stringContaining("netns busy"),
    });
    expect((await h.store.load()).sandboxes).toEqual([]);
    expect(h.backend.sandboxIds()).toEqual([]);
    // The name was released, so the retry succeeds.
    await h.runtime.runPodSandbox({ config: podConfig("undo") });
  });

  it("hides a pod from every RPC while it is still being created", async () => {
    h = await createHarness();
    const release = h.backend.hold("runSandbox");
    const pending = h.runtime.runPodSandbox({ config: podConfig("slow") });
    await new Promise((r) => setImmediate(r));
    expect((await h.runtime.listPodSandbox({})).items).toEqual([]);
    expect(h.runtime.counts().sandboxes).toBe(0);
    // But its record is already on disk (persist before create).
    expect((await h.store.load()).sandboxes).toHaveLength(1);
    release();
    const { podSandboxId } = await pending;
    expect((await h.runtime.listPodSandbox({})).items.map((p) => p.id)).toEqual([podSandboxId]);
  });

  describe("kubelet retry after its deadline", () => {
    it("a retry with the same name and config joins the abandoned create and gets its ID", async () => {
      h = await createHarness();
      const release = h.backend.hold("runSandbox");
      const first = new AbortController();
      const firstCall = h.runtime.runPodSandbox({ config: podConfig("retry") }, { signal: first.signal });
      first.abort();
      await expect(firstCall).rejects.toMatchObject({ code: "DeadlineExceeded" });
      const retry = h.runtime.runPodSandbox({ config: podConfig("retry") });
      release();
      const { podSandboxId } = await retry;
      expect((await h.runtime.listPodSandbox({})).items.map((p) => p.id)).toEqual([podSandboxId]);
    });

    it("a retry after the abandoned create finished takes the finished pod", async () => {
      h = await createHarness();
      const release = h.backend.hold("runSandbox");
      const first = new AbortController();
      const firstCall = h.runtime.runPodSandbox({ config: podConfig("late") }, { signal: first.signal });
      first.abort();
      await expect(firstCall).rejects.toMatchObject({ code: "DeadlineExceeded" });
      release();
      const [pod] = await waitForPods(h, 1);
      const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig("late") });
      expect(podSandboxId).toBe(pod);
      // Once claimed, the name is an ordinary reservation again.
      await expect(h.runtime.runPodSandbox({ config: podConfig("late") })).rejects.toMatchObject({
        code: "AlreadyExists",
        message: expect.stringContaining(pod!),
      });
    });

    it("a retry after the abandoned create failed starts afresh", async () => {
      h = await createHarness();
      const release = h.backend.hold("runSandbox");
      const first = new AbortController();
      const firstCall = h.runtime.runPodSandbox({ config: podConfig("fails") }, { signal: first.signal });
      first.abort();
      await expect(firstCall).rejects.toMatchObject({ code: "DeadlineExceeded" });
      // The retry adopts the in-flight create, which then fails: the retry starts a fresh one.
      const retry = h.runtime.runPodSandbox({ config: podConfig("fails") });
      release(new Error("boom"));
      const { podSandboxId } = await retry;
      expect(h.backend.sandboxIds()).toEqual([podSandboxId]);
      expect((await h.store.load()).sandboxes.map((s) => s.metadata.id)).toEqual([podSandboxId]);
    });

    it("a second caller with a different config gets AlreadyExists even if the holder was abandoned", async () => {
      h = await createHarness();
      const release = h.backend.hold("runSandbox");
      const first = new AbortController();
      const firstCall = h.runtime.runPodSandbox({ config: podConfig("cfg") }, { signal: first.signal });
      first.abort();
      await expect(firstCall).rejects.toMatchObject({ code: "DeadlineExceeded" });
      const other = { ...podConfig("cfg"), hostname: "different" };
      await expect(h.runtime.runPodSandbox({ config: other })).rejects.toMatchObject({
        code: "AlreadyExists",
      });
      release();
    });

    it("a concurrent duplicate whose holder is still waited for is AlreadyExists", async () => {
      h = await createHarness();
      const release = h.backend.hold("runSandbox");
      const firstCall = h.runtime.runPodSandbox({ config: podConfig("busy") });
      await expect(h.runtime.runPodSandbox({ config: podConfig("busy") })).rejects.toMatchObject({
        code: "AlreadyExists",
      });
      release();
      await firstCall;
    });
  });
});

async function waitForPods(harness: Harness, n: number): Promise<string[]> {
  for (;;) {
    const { items } = await harness.runtime.listPodSandbox({});
    if (items.length >= n) return items.map((p) => p.id);
    await new Promise((r) => setTimeout(r, 5));
  }
}
