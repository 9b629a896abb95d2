import { afterEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, type Harness, podConfig } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("podSandboxStatus", () => {
  it("reports metadata, labels, namespaces, handler and the pod's container statuses", async () => {
    h = await createHarness();
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
