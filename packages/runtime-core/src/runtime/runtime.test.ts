import { afterEach, describe, expect, it } from "vitest";
import { createHarness, type Harness } from "../_test-harness.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("runtime RPCs", () => {
  it("Version", async () => {
    h = await createHarness();
    expect(await h.runtime.version({})).toEqual({
      version: "0.1.0",
      runtimeName: "servin",
      runtimeVersion: "0.1.0",
      runtimeApiVersion: "v1",
    });
  });

  it("Status reports the backend's conditions truthfully and the handlers", async () => {
    h = await createHarness({ backend: { handlers: ["runc"] } });
    const res = await h.runtime.status({});
    expect(res.status.conditions).toEqual([
      {
        type: "RuntimeReady",
        status: true,
        reason: "RuntimeIsReady",
        message: expect.stringContaining("simulated"),
      },
      {
        type: "NetworkReady",
        status: true,
        reason: "",
        message: expect.stringContaining('simulated network "memory"'),
      },
    ]);
    expect(res.runtimeHandlers?.map((r) => r.name)).toEqual(["", "runc"]);
    expect(res.info).toBeUndefined();
  });

  it("Status verbose shows the network's name and plugins in info.network", async () => {
    h = await createHarness({});
    const res = await h.runtime.status({ verbose: true });
    expect(JSON.parse(res.info?.network ?? "{}")).toEqual({
      network: { name: "memory", cniVersion: "1.0.0", file: "", plugins: [] },
    });
  });

  it("Status follows a backend that is not ready", async () => {
    h = await createHarness({
      backend: { conditions: { runtime: { ready: false, reason: "NoRuntime", message: "runc missing" } } },
    });
    const ready = (await h.runtime.status({})).status.conditions[0];
    expect(ready).toMatchObject({ type: "RuntimeReady", status: false, message: "runc missing" });
  });

  it("verbose Status and UpdateRuntimeConfig: the pod CIDR is kept", async () => {
    h = await createHarness();
    await h.runtime.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: "10.88.0.0/16" } } });
    const { info } = await h.runtime.status({ verbose: true });
    expect(JSON.parse(info!.config!)).toMatchObject({
      backend: "memory",
      runtimeConfig: { networkConfig: { podCidr: "10.88.0.0/16" } },
    });
  });

  it("RuntimeConfig says cgroupfs", async () => {
    h = await createHarness();
    expect(await h.runtime.runtimeConfig({})).toEqual({ linux: { cgroupDriver: "CGROUPFS" } });
  });

  it.each([
    ["exec", { containerId: "x", cmd: ["sh"] }],
    ["attach", { containerId: "x" }],
    ["portForward", { podSandboxId: "x" }],
    ["checkpointContainer", { containerId: "x" }],
    ["listPodSandboxMetrics", {}],
    ["listMetricDescriptors", {}],
  ] as const)("%s is Unimplemented with a reason", async (rpc, req) => {
    h = await createHarness();
    const call = (h.runtime[rpc] as (r: object) => Promise<unknown>)(req);
    await expect(call).rejects.toMatchObject({
      code: "Unimplemented",
      message: expect.stringMatching(/is not implemented: .+/),
    });
  });
});
