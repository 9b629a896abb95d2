import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("container stats", () => {
  it("ContainerStats adds the CRI attributes to the backend's figures", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({
      podSandboxId,
      config: containerConfig("c", { labels: { l: "1" }, annotations: { a: "2" } }),
    });
    const { stats } = await h.runtime.containerStats({ containerId });
    expect(stats.attributes).toEqual({
      id: containerId,
      metadata: { name: "c", attempt: 0 },
      labels: { l: "1" },
      annotations: { a: "2" },
    });
    expect(stats.cpu?.usageCoreNanoSeconds?.value).toBe(0);
    expect(stats.cpu!.timestamp > 0n).toBe(true);
  });

  it("ListContainerStats filters by id, pod and labels", async () => {
    h = await createHarness();
    const p1 = (await h.runtime.runPodSandbox({ config: podConfig() })).podSandboxId;
    const p2 = (await h.runtime.runPodSandbox({ config: podConfig() })).podSandboxId;
    const a = (
      await h.runtime.createContainer({
        podSandboxId: p1,
        config: containerConfig("a", { labels: { k: "a" } }),
      })
    ).containerId;
    const b = (await h.runtime.createContainer({ podSandboxId: p2, config: containerConfig("b") }))
      .containerId;
    const ids = async (filter: object) =>
      (await h.runtime.listContainerStats({ filter })).stats.map((s) => s.attributes.id).sort();
    expect(await ids({})).toEqual([a, b].sort());
    expect(await ids({ id: b.slice(0, 9) })).toEqual([b]);
    expect(await ids({ podSandboxId: p1 })).toEqual([a]);
    expect(await ids({ labelSelector: { k: "a" } })).toEqual([a]);
  });
});
