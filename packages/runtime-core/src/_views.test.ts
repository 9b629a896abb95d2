/**
 * The views of containers and pods (list items, statuses) are built once per version of an entry and
 * frozen, and a change of state (start, stop, exit, removal of the pod's network) gives new ones: the
 * encoders downstream cache by the identity of frozen objects, so a stale view would be a stale answer.
 */
import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "./_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function podWithContainer() {
  const config = podConfig();
  const podSandboxId = (await h.runtime.runPodSandbox({ config })).podSandboxId;
  const containerId = (
    await h.runtime.createContainer({ podSandboxId, config: containerConfig("a"), sandboxConfig: config })
  ).containerId;
  return { podSandboxId, containerId };
}

describe("entry views", () => {
  it("answer the same frozen object while a container is unchanged, and a new one once it changes", async () => {
    h = await createHarness({ enablePodEvents: true });
    const { podSandboxId, containerId } = await podWithContainer();
    const item = async () => (await h.runtime.listContainers({ filter: { id: containerId } })).containers[0];
    const status = async () => (await h.runtime.containerStatus({ containerId })).status;

    const created = await status();
    expect(Object.isFrozen(created)).toBe(true);
    expect(await status()).toBe(created);
    const createdItem = await item();
    expect(Object.isFrozen(createdItem)).toBe(true);
    expect(await item()).toBe(createdItem);

    await h.runtime.startContainer({ containerId });
    const running = await status();
    expect(running).not.toBe(created);
    expect(running.state).toBe("CONTAINER_RUNNING");
    expect(running.startedAt).toBeGreaterThan(0n);
    expect((await item())?.state).toBe("CONTAINER_RUNNING");
    const inPod = (await h.runtime.podSandboxStatus({ podSandboxId })).containersStatuses;
    expect(inPod?.[0]).toBe(running);

    await h.runtime.stopContainer({ containerId, timeout: 0 });
    const exited = await status();
    expect(exited.state).toBe("CONTAINER_EXITED");
    expect(exited.finishedAt).toBeGreaterThan(0n);
    expect((await item())?.state).toBe("CONTAINER_EXITED");
    expect((await h.runtime.podSandboxStatus({ podSandboxId })).containersStatuses?.[0]?.state).toBe(
      "CONTAINER_EXITED",
    );
  });

  it("answer a new pod view after StopPodSandbox (state and network), the same one in between", async () => {
    h = await createHarness();
    const { podSandboxId } = await podWithContainer();
    const status = async () => (await h.runtime.podSandboxStatus({ podSandboxId })).status;
    const item = async () => (await h.runtime.listPodSandbox({ filter: { id: podSandboxId } })).items[0];

    const ready = await status();
    expect(Object.isFrozen(ready)).toBe(true);
    expect(await status()).toBe(ready);
    const readyItem = await item();
    expect(await item()).toBe(readyItem);
    expect(readyItem?.state).toBe("SANDBOX_READY");

    await h.runtime.stopPodSandbox({ podSandboxId });
    const stopped = await status();
    expect(stopped).not.toBe(ready);
    expect(stopped.state).toBe("SANDBOX_NOTREADY");
    expect(stopped.network).toEqual({});
    expect((await item())?.state).toBe("SANDBOX_NOTREADY");
  });

  it("are not shared between runtimes over the same store (a restart rebuilds them)", async () => {
    h = await createHarness();
    const { containerId } = await podWithContainer();
    await h.runtime.startContainer({ containerId });
    const before = (await h.runtime.containerStatus({ containerId })).status;
    // Unchanged in one runtime: the same view.
    expect((await h.runtime.containerStatus({ containerId })).status).toBe(before);
    const runtime = await h.restart();
    await runtime.recovered;
    const after = (await runtime.containerStatus({ containerId })).status;
    expect(after.state).toBe("CONTAINER_RUNNING");
    expect(after).not.toBe(before);
  });

  it("make whole answers that stay the same frozen object while nothing in them changed", async () => {
    h = await createHarness();
    const { podSandboxId, containerId } = await podWithContainer();
    const answers = async () => ({
      containerStatus: await h.runtime.containerStatus({ containerId }),
      podSandboxStatus: await h.runtime.podSandboxStatus({ podSandboxId }),
      listContainers: await h.runtime.listContainers({}),
      listPodSandbox: await h.runtime.listPodSandbox({}),
    });
    const before = await answers();
    const again = await answers();
    for (const [rpc, answer] of Object.entries(before)) {
      expect(Object.isFrozen(answer), rpc).toBe(true);
      expect(again[rpc as keyof typeof again], rpc).toBe(answer);
    }
    expect(Object.isFrozen(before.listContainers.containers)).toBe(true);

    await h.runtime.startContainer({ containerId });
    const started = await answers();
    expect(started.containerStatus).not.toBe(before.containerStatus);
    expect(started.containerStatus.status.state).toBe("CONTAINER_RUNNING");
    expect(started.listContainers).not.toBe(before.listContainers);
    expect(started.listContainers.containers[0]?.state).toBe("CONTAINER_RUNNING");
    // The pod did not change.
    expect(started.podSandboxStatus).toBe(before.podSandboxStatus);
    expect(started.listPodSandbox).toBe(before.listPodSandbox);

    // A filtered list that lists the same items answers the same object; a different one a new answer.
    expect(await h.runtime.listContainers({ filter: { id: containerId } })).toBe(started.listContainers);
    expect(
      (await h.runtime.listContainers({ filter: { state: { state: "CONTAINER_EXITED" } } })).containers,
    ).toEqual([]);
    expect(await h.runtime.listContainers({})).toEqual(started.listContainers);

    // Verbose answers carry live info: made per call, never the kept one.
    const verbose = await h.runtime.containerStatus({ containerId, verbose: true });
    expect(verbose).not.toBe(started.containerStatus);
    expect(verbose.status).toBe(started.containerStatus.status);
    expect(JSON.parse(verbose.info?.info ?? "{}").sandboxID).toBe(podSandboxId);
    const podVerbose = await h.runtime.podSandboxStatus({ podSandboxId, verbose: true });
    expect(JSON.parse(podVerbose.info?.info ?? "{}").config.metadata.uid).toBeTruthy();
    expect(await h.runtime.podSandboxStatus({ podSandboxId })).toBe(before.podSandboxStatus);
  });
});
