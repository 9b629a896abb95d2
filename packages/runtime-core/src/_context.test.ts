/**
 * ContainerIndex keeps each pod's containers beside the map of all of them, through the Map's own
 * set/delete/clear: PodSandboxStatus reads its pod's containers without walking all 200.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ContainerIndex, newContainerEntry } from "./_context.js";
import { containerConfig, createHarness, type Harness, podConfig } from "./_test-harness.js";
import type { ContainerRecord } from "./backend.js";
import type { ContainerStatusData } from "./store/container-status.js";

const entry = (id: string, sandboxId: string) =>
  newContainerEntry(
    { id, sandboxId, config: { metadata: { name: id, attempt: 0 } } } as unknown as ContainerRecord,
    {} as ContainerStatusData,
  );

describe("ContainerIndex", () => {
  it("keeps each pod's containers in the order they were added, through set, replace, delete and clear", () => {
    const index = new ContainerIndex();
    const a = entry("a", "p1");
    const b = entry("b", "p2");
    const c = entry("c", "p1");
    index.set(a.record.id, a).set(b.record.id, b).set(c.record.id, c);
    expect([...index.ofSandbox(a.record.sandboxId)]).toEqual([a, c]);
    expect([...index.ofSandbox(b.record.sandboxId)]).toEqual([b]);

    // The same ID set again with a new entry (recovery): the old entry is gone from its pod.
    const a2 = entry("a", "p1");
    index.set(a2.record.id, a2);
    expect([...index.ofSandbox(a.record.sandboxId)]).toEqual([c, a2]);
    expect(index.size).toBe(3);

    expect(index.delete(c.record.id)).toBe(true);
    expect(index.delete(c.record.id)).toBe(false);
    expect([...index.ofSandbox(a.record.sandboxId)]).toEqual([a2]);
    index.delete(a2.record.id);
    expect(index.ofSandbox(a.record.sandboxId).size).toBe(0);

    index.clear();
    expect(index.size).toBe(0);
    expect(index.ofSandbox(b.record.sandboxId).size).toBe(0);
  });
});

describe("PodSandboxStatus's containers", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it("are its own pod's, created, removed and recovered", async () => {
    h = await createHarness({ enablePodEvents: true });
    const pods: { id: string; containers: string[] }[] = [];
    for (let p = 0; p < 3; p++) {
      const config = podConfig();
      const id = (await h.runtime.runPodSandbox({ config })).podSandboxId;
      const containers: string[] = [];
      for (let c = 0; c < 3; c++) {
        const req = { podSandboxId: id, config: containerConfig(`c${c}`), sandboxConfig: config };
        containers.push((await h.runtime.createContainer(req)).containerId);
      }
      pods.push({ id, containers });
    }
    const ids = async (podSandboxId: string) =>
      ((await h.runtime.podSandboxStatus({ podSandboxId })).containersStatuses ?? []).map((s) => s.id);
    for (const pod of pods) expect(await ids(pod.id)).toEqual(pod.containers);

    const [first, second] = pods as [(typeof pods)[0], (typeof pods)[0]];
    await h.runtime.removeContainer({ containerId: first.containers[1] as string });
    expect(await ids(first.id)).toEqual([first.containers[0], first.containers[2]]);
    await h.runtime.stopPodSandbox({ podSandboxId: second.id });
    await h.runtime.removePodSandbox({ podSandboxId: second.id });
    expect(await ids(first.id)).toEqual([first.containers[0], first.containers[2]]);

    await h.restart();
    await h.runtime.recovered;
    expect(new Set(await ids(first.id))).toEqual(new Set([first.containers[0], first.containers[2]]));
    expect(await ids((pods[2] as (typeof pods)[0]).id)).toEqual((pods[2] as (typeof pods)[0]).containers);
  });
});
