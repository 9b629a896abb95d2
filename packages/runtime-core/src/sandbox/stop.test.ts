import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("stopPodSandbox", () => {
  it("kills the pod's running containers (timeout 0 → 137), stops the infra and persists NOTREADY", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    await h.runtime.startContainer({ containerId });
    const created = (await h.runtime.createContainer({ podSandboxId, config: containerConfig("d") }))
      .containerId;

    await h.runtime.stopPodSandbox({ podSandboxId });

    const c = (await h.runtime.containerStatus({ containerId })).status;
    expect(c).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 137, reason: "Error" });
    // A CREATED container has no process to stop: it stays CREATED (containerd).
    expect((await h.runtime.containerStatus({ containerId: created })).status.state).toBe(
      "CONTAINER_CREATED",
    );
    const stored = (await h.store.load()).sandboxes[0]!;
    expect(stored.status.state).toBe("SANDBOX_NOTREADY");
    expect(stored.status.stoppedAt > 0n).toBe(true);
    expect((await h.backend.inspectSandbox(stored.metadata)).ready).toBe(false);
  });

  it("is idempotent and emits STOPPED once", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    const controller = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const e of h.runtime.getContainerEvents({}, { signal: controller.signal })) {
        seen.push(e.containerEventType);
      }
    })();
    await h.runtime.stopPodSandbox({ podSandboxId });
    await h.runtime.stopPodSandbox({ podSandboxId });
    controller.abort();
    await done;
    expect(seen).toEqual(["CONTAINER_STOPPED_EVENT"]);
  });

  it("succeeds for an unknown ID (CRI: stop must not fail once resources are reclaimed)", async () => {
    h = await createHarness();
    await expect(h.runtime.stopPodSandbox({ podSandboxId: "f".repeat(64) })).resolves.toEqual({});
  });

  it("reports no IP once stopped", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig() });
    await h.runtime.stopPodSandbox({ podSandboxId });
    expect((await h.runtime.podSandboxStatus({ podSandboxId })).status.network).toEqual({});
  });
});
