import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("pod sandbox stats", () => {
  it("combine the backend's pod figures with the containers' stats", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({
      config: podConfig("s", { labels: { k: "v" } }),
    });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await h.runtime.startContainer({ containerId });
    const { stats } = await h.runtime.podSandboxStats({ podSandboxId });
    expect(stats.attributes).toMatchObject({ id: podSandboxId, labels: { k: "v" } });
    expect(stats.linux?.process?.processCount?.value).toBe(1);
    expect(stats.linux?.containers?.map((c) => c.attributes.id)).toEqual([containerId]);
  });

  it("ListPodSandboxStats filters by id prefix and labels", async () => {
    h = await createHarness();
    const a = (await h.runtime.runPodSandbox({ config: podConfig("a", { labels: { k: "a" } }) }))
      .podSandboxId;
    await h.runtime.runPodSandbox({ config: podConfig("b", { labels: { k: "b" } }) });
    expect((await h.runtime.listPodSandboxStats({})).stats).toHaveLength(2);
    expect(
      (await h.runtime.listPodSandboxStats({ filter: { id: a.slice(0, 10) } })).stats[0]?.attributes.id,
    ).toBe(a);
    expect(
      (await h.runtime.listPodSandboxStats({ filter: { labelSelector: { k: "b" } } })).stats,
    ).toHaveLength(1);
  });
});
