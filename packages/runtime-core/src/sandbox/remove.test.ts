import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("removePodSandbox", () => {
  it("removes containers, backend state, records, and frees the name", async () => {
    h = await createHarness();
    const config = podConfig("rm");
    const { podSandboxId } = await h.runtime.runPodSandbox({ config });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await h.runtime.startContainer({ containerId });

    await h.runtime.removePodSandbox({ podSandboxId });

    expect(h.backend.sandboxIds()).toEqual([]);
    expect(h.backend.containerIds()).toEqual([]);
    expect(await h.store.load()).toEqual({ sandboxes: [], containers: [] });
    expect(h.runtime.counts()).toEqual({ sandboxes: 0, containers: 0, running: 0 });
    await h.runtime.runPodSandbox({ config });
  });

  it("emits DELETED for the containers and then for the pod, with the pod's last status", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    const controller = new AbortController();
    const seen: Array<[string, string, string | undefined]> = [];
    const done = (async () => {
      for await (const e of h.runtime.getContainerEvents({}, { signal: controller.signal })) {
        seen.push([e.containerId, e.containerEventType, e.podSandboxStatus?.state]);
      }
    })();
    await h.runtime.removePodSandbox({ podSandboxId });
    controller.abort();
    await done;
    expect(seen).toEqual([
      [podSandboxId, "CONTAINER_STOPPED_EVENT", "SANDBOX_NOTREADY"],
      [containerId, "CONTAINER_DELETED_EVENT", "SANDBOX_NOTREADY"],
      [podSandboxId, "CONTAINER_DELETED_EVENT", "SANDBOX_NOTREADY"],
    ]);
  });

  it("waits for a CreateContainer in flight; whichever way it ends, nothing leaks", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const release = h.backend.hold("createContainer");
    const creating = h.runtime.createContainer({ podSandboxId, config: containerConfig("late") });
    await new Promise((r) => setImmediate(r));
    const removing = h.runtime.removePodSandbox({ podSandboxId });
    await new Promise((r) => setImmediate(r));
    release();
    // The pod was stopped under it, so the memory backend refuses the create; its undo steps clean up.
    await expect(creating).rejects.toMatchObject({ code: "FailedPrecondition" });
    await removing;
    expect(h.backend.containerIds()).toEqual([]);
    expect((await h.store.load()).containers).toEqual([]);
  });

  it("succeeds for an unknown ID and for a second call", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    await Promise.all([
      h.runtime.removePodSandbox({ podSandboxId }),
      h.runtime.removePodSandbox({ podSandboxId }),
    ]);
    await h.runtime.removePodSandbox({ podSandboxId });
    await h.runtime.removePodSandbox({ podSandboxId: "0".repeat(64) });
  });
});
