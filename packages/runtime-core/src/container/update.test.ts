import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("updateContainerResources", () => {
  it("merges new values over the config's and persists them", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({
      podSandboxId,
      config: containerConfig("c", { linux: { resources: { cpuShares: 2, memoryLimitInBytes: 1 << 20 } } }),
    });
    await h.runtime.updateContainerResources({ containerId, linux: { cpuShares: 512 } });
    const expected = { linux: { cpuShares: 512, memoryLimitInBytes: 1 << 20 } };
    expect((await h.runtime.containerStatus({ containerId })).status.resources).toEqual(expected);
    expect((await h.store.load()).containers[0]?.status.resources).toEqual(expected);
  });

  it("refuses EXITED containers", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await h.runtime.startContainer({ containerId });
    await h.runtime.stopContainer({ containerId });
    await expect(
      h.runtime.updateContainerResources({ containerId, linux: { cpuShares: 3 } }),
    ).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
  });
});
