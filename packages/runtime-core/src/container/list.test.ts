import { afterEach, describe, expect, it } from "vitest";
import { BUSYBOX_ID, containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("listContainers", () => {
  it("filters by id, pod prefix, state and labels; entries carry image and ref", async () => {
    h = await createHarness();
    const p1 = (await h.runtime.runPodSandbox({ config: podConfig() })).podSandboxId;
    const p2 = (await h.runtime.runPodSandbox({ config: podConfig() })).podSandboxId;
    const a = (
      await h.runtime.createContainer({
        podSandboxId: p1,
        config: containerConfig("a", { labels: { r: "x" } }),
      })
    ).containerId;
    const b = (
      await h.runtime.createContainer({
        podSandboxId: p2,
        config: containerConfig("b", { labels: { r: "y" } }),
      })
    ).containerId;
    await h.runtime.startContainer({ containerId: b });
    const ids = async (filter: object) =>
      (await h.runtime.listContainers({ filter })).containers.map((c) => c.id).sort();
    expect(await ids({})).toEqual([a, b].sort());
    expect(await ids({ id: a.slice(0, 5) })).toEqual([a]);
    expect(await ids({ podSandboxId: p2.slice(0, 5) })).toEqual([b]);
    expect(await ids({ state: { state: "CONTAINER_RUNNING" } })).toEqual([b]);
    expect(await ids({ state: { state: "CONTAINER_EXITED" } })).toEqual([]);
    expect(await ids({ labelSelector: { r: "x" } })).toEqual([a]);
    expect(await ids({ id: a, podSandboxId: p2 })).toEqual([]);
    const [entry] = (await h.runtime.listContainers({ filter: { id: a } })).containers;
    expect(entry).toMatchObject({
      podSandboxId: p1,
      image: { image: "busybox:latest" },
      imageRef: BUSYBOX_ID,
      imageId: BUSYBOX_ID,
      state: "CONTAINER_CREATED",
      labels: { r: "x" },
    });
  });

  it("does not list a container whose create is still in flight", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const release = h.backend.hold("createContainer");
    const creating = h.runtime.createContainer({ podSandboxId, config: containerConfig("slow") });
    await new Promise((r) => setImmediate(r));
    expect((await h.runtime.listContainers({})).containers).toEqual([]);
    release();
    await creating;
    expect((await h.runtime.listContainers({})).containers).toHaveLength(1);
  });
});
