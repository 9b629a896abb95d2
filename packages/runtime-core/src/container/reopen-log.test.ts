import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("reopenContainerLog", () => {
  it("works on a running container and refuses a created one", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await expect(h.runtime.reopenContainerLog({ containerId })).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("CONTAINER_CREATED"),
    });
    await h.runtime.startContainer({ containerId });
    await expect(h.runtime.reopenContainerLog({ containerId })).resolves.toEqual({});
  });
});
