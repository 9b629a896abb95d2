import { afterEach, describe, expect, it } from "vitest";
import { BUSYBOX_ID, containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("removeContainer", () => {
  it("force-stops a running container, then removes it everywhere and frees its name", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await h.runtime.startContainer({ containerId });
    const controller = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of h.runtime.getContainerEvents({}, { signal: controller.signal })) {
        seen.push(e.containerEventType);
      }
    })();
    await h.runtime.removeContainer({ containerId: containerId.slice(0, 12) });
    controller.abort();
    await done;
    expect(seen).toEqual(["CONTAINER_STOPPED_EVENT", "CONTAINER_DELETED_EVENT"]);
    expect(h.backend.containerIds()).toEqual([]);
    expect((await h.store.load()).containers).toEqual([]);
    expect(h.runtime.isImageInUse(BUSYBOX_ID)).toBe(false);
    await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
  });

  it("succeeds for unknown IDs and concurrent double removes", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await Promise.all([
      h.runtime.removeContainer({ containerId }),
      h.runtime.removeContainer({ containerId }),
    ]);
    await h.runtime.removeContainer({ containerId: "9".repeat(64) });
  });

  it("an operation queued behind the remove answers NotFound", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    const removing = h.runtime.removeContainer({ containerId });
    const starting = h.runtime.startContainer({ containerId });
    await removing;
    await expect(starting).rejects.toMatchObject({ code: "NotFound" });
  });
});
