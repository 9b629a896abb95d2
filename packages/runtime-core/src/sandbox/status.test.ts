import { type ContainerEventResponse, nowNanos } from "@servin/cri-types";
import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("podSandboxStatus", () => {
  it("reports metadata, labels, namespaces, handler and, with pod events on, the pod's container statuses", async () => {
    h = await createHarness({ enablePodEvents: true });
    const config = {
      ...podConfig("st", { labels: { app: "web" } }),
      annotations: { note: "x" },
      linux: { securityContext: { namespaceOptions: { network: "NODE" as const } } },
    };
    const { podSandboxId } = await h.runtime.runPodSandbox({ config });
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    const res = await h.runtime.podSandboxStatus({ podSandboxId: podSandboxId.slice(0, 8) });
    expect(res.status).toMatchObject({
      id: podSandboxId,
      metadata: config.metadata,
      state: "SANDBOX_READY",
      labels: { app: "web" },
      annotations: { note: "x" },
      runtimeHandler: "",
      linux: { namespaces: { options: { network: "NODE", pid: "POD", ipc: "POD" } } },
    });
    expect(res.containersStatuses?.map((c) => c.id)).toEqual([containerId]);
    expect(res.timestamp! > 0n).toBe(true);
    expect(res.info).toBeUndefined();
  });

  it("leaves out containers_statuses and timestamp by default; fills both with pod events on", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig("off") });
    await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    const off = await h.runtime.podSandboxStatus({ podSandboxId });
    expect(Object.keys(off)).toEqual(["status"]);
    expect(off.status.id).toBe(podSandboxId);
    await h.close();

    h = await createHarness({ enablePodEvents: true });
    const pod = await h.runtime.runPodSandbox({ config: podConfig("on") });
    const { containerId } = await h.runtime.createContainer({
      podSandboxId: pod.podSandboxId,
      config: containerConfig("c"),
    });
    const before = nowNanos();
    const on = await h.runtime.podSandboxStatus({ podSandboxId: pod.podSandboxId });
    const after = nowNanos();
    expect(on.containersStatuses?.map((c) => [c.id, c.state])).toEqual([[containerId, "CONTAINER_CREATED"]]);
    expect(on.timestamp! >= before && on.timestamp! <= after).toBe(true);
  });

  it("without pod events, GetContainerEvents still carries the pod's container statuses", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig("ev") });
    const controller = new AbortController();
    const events = h.runtime.getContainerEvents({}, { signal: controller.signal })[Symbol.asyncIterator]();
    const { containerId } = await h.runtime.createContainer({ podSandboxId, config: containerConfig("c") });
    const created: ContainerEventResponse | undefined = (await events.next()).value;
    controller.abort();
    expect(created?.containerEventType).toBe("CONTAINER_CREATED_EVENT");
    expect(created?.containersStatuses.map((c) => c.id)).toEqual([containerId]);
  });

  it("verbose: info.info is JSON with the backend's observation and the config", async () => {
    h = await createHarness();
    const { podSandboxId } = await h.runtime.runPodSandbox({ config: podConfig("v") });
    const res = await h.runtime.podSandboxStatus({ podSandboxId, verbose: true });
    const info = JSON.parse(res.info!.info!);
    expect(info).toMatchObject({
      backend: "memory",
      observed: { ready: true, simulated: true },
      config: { metadata: { name: "v" } },
    });
  });
});
