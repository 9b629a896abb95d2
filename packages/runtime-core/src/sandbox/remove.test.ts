import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("removePodSandbox", () => {
  it("takes along a log directory below the runtime's own log root, and leaves every other one", async () => {
    const base = await mkdtemp(join(tmpdir(), "servin-owned-logs-"));
    try {
      const root = join(base, "pod-logs");
      h = await createHarness({ ownedLogRoot: root });
      const owned = join(root, "default_web_uid-web");
      const kubelets = join(base, "kubelet", "default_api_uid-api");
      const escaping = join(root, "..", "outside");
      for (const dir of [owned, kubelets, escaping]) {
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, "0.log"), "a line\n");
      }
      for (const [name, logDirectory] of [
        ["web", owned],
        ["api", kubelets],
        ["esc", escaping],
        ["root", root],
      ] as const) {
        const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig(name, { logDirectory }) });
        await h.runtime.removePodSandbox({ podSandboxId });
      }
      expect(existsSync(owned)).toBe(false);
      expect(existsSync(join(kubelets, "0.log"))).toBe(true);
      expect(existsSync(join(escaping, "0.log"))).toBe(true);
      expect(existsSync(root)).toBe(true);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

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

  it("removes its containers together: one held up does not hold up the others", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    for (const name of ["a", "b", "c"])
      await h.runtime.createContainer({ podSandboxId, config: containerConfig(name) });
    const release = h.backend.hold("removeContainer");
    const removing = h.runtime.removePodSandbox({ podSandboxId });
    // Removed one after another, the two others would wait behind the held one.
    await vi.waitFor(() => expect(h.backend.containerIds()).toHaveLength(1));
    expect(h.backend.sandboxIds()).toEqual([podSandboxId]);
    release();
    await removing;
    expect(h.backend.containerIds()).toEqual([]);
    expect(await h.store.load()).toEqual({ sandboxes: [], containers: [] });
  });

  it("keeps the pod and the container whose removal failed, removes the others; a second call finishes", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    for (const name of ["a", "b", "c"])
      await h.runtime.createContainer({ podSandboxId, config: containerConfig(name) });
    h.backend.failNext("removeContainer", new Error("device or resource busy"));
    await expect(h.runtime.removePodSandbox({ podSandboxId })).rejects.toThrow(/device or resource busy/);
    const left = await h.store.load();
    expect(left.sandboxes.map((s) => s.metadata.id)).toEqual([podSandboxId]);
    expect(left.containers).toHaveLength(1);
    expect(h.backend.containerIds()).toEqual([left.containers[0]?.metadata.id]);
    expect(h.runtime.counts()).toMatchObject({ sandboxes: 1, containers: 1 });

    await h.runtime.removePodSandbox({ podSandboxId });
    expect(h.backend.containerIds()).toEqual([]);
    expect(h.backend.sandboxIds()).toEqual([]);
    expect(await h.store.load()).toEqual({ sandboxes: [], containers: [] });
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
