import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("listPodSandbox", () => {
  it("filters by id, unique prefix, state and every label pair", async () => {
    h = await createHarness();
    const a = (await h.runtime.runPodSandbox({ config: podConfig("a", { labels: { x: "1", y: "2" } }) }))
      .podSandboxId;
    const b = (await h.runtime.runPodSandbox({ config: podConfig("b", { labels: { x: "1" } }) }))
      .podSandboxId;
    await h.runtime.stopPodSandbox({ podSandboxId: b });
    const ids = async (filter: object) =>
      (await h.runtime.listPodSandbox({ filter })).items.map((p) => p.id).sort();
    expect(await ids({})).toEqual([a, b].sort());
    expect(await ids({ id: a.slice(0, 20) })).toEqual([a]);
    expect(await ids({ state: { state: "SANDBOX_NOTREADY" } })).toEqual([b]);
    expect(await ids({ labelSelector: { x: "1", y: "2" } })).toEqual([a]);
    expect(await ids({ labelSelector: { x: "1" } })).toEqual([a, b].sort());
    expect(await ids({ labelSelector: { x: "2" } })).toEqual([]);
    // An ambiguous prefix narrows to nothing rather than failing (containerd); "" is no filter.
    expect(await ids({ id: "" })).toEqual([a, b].sort());
  });

  it("never waits behind a slow operation on another object", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await h.runtime.startContainer({ containerId });
    const release = h.backend.hold("stopContainer");
    const stopping = h.runtime.stopContainer({ containerId, timeout: 30 });
    await new Promise((r) => setImmediate(r));
    // The stop holds the container's lock; lists and statuses answer anyway.
    expect((await h.runtime.listPodSandbox({})).items).toHaveLength(1);
    expect((await h.runtime.listContainers({})).containers[0]?.state).toBe("CONTAINER_RUNNING");
    expect((await h.runtime.containerStatus({ containerId })).status.state).toBe("CONTAINER_RUNNING");
    const other = (await h.runtime.runPodSandbox({ config: podConfig() })).podSandboxId;
    expect(other).toMatch(/^[0-9a-f]{64}$/);
    release();
    await stopping;
    expect((await h.runtime.containerStatus({ containerId })).status.exitCode).toBe(143);
  });
});
