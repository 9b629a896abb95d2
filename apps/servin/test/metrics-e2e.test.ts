/**
 * /metrics counts CRI calls of both transports (issue 12): the built binary, a gRPC client on its
 * unix socket and an HTTP client on its port; each call is one `servin_cri_requests_total` sample
 * labelled with its transport, RPC and CRI code.
 */
import { createCriGrpcClient } from "@servin/cri-grpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServin, removeDir, startServin } from "./_binary.js";

let servin: RunningServin;

beforeAll(async () => {
  servin = await startServin(["--backend", "memory", "--image-backend", "memory"]);
});
afterAll(async () => {
  expect(await servin.stop("SIGTERM")).toBe(0);
  await removeDir(servin.dir);
});

/** The value of one `servin_cri_requests_total` series, 0 when absent. */
async function requests(labels: { transport: string; rpc: string; status: string }): Promise<number> {
  const res = await fetch(`${servin.url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  const want = `servin_cri_requests_total{transport="${labels.transport}",rpc="${labels.rpc}",status="${labels.status}"}`;
  const line = text.split("\n").find((l) => l.startsWith(`${want} `));
  return line === undefined ? 0 : Number(line.slice(want.length + 1));
}

describe("servin cri start /metrics", () => {
  it('shows gRPC calls as transport="grpc" series, one sample per call', async () => {
    const cri = createCriGrpcClient(`unix://${servin.socket}`, { timeoutMs: 60_000 });
    try {
      await cri.version({});
      await cri.listContainers({});
      await cri.listContainers({});
      await expect(cri.containerStatus({ containerId: "nosuch" })).rejects.toMatchObject({
        code: "NotFound",
      });
    } finally {
      cri.close();
    }
    expect(await requests({ transport: "grpc", rpc: "version", status: "OK" })).toBe(1);
    expect(await requests({ transport: "grpc", rpc: "listContainers", status: "OK" })).toBe(2);
    expect(await requests({ transport: "grpc", rpc: "containerStatus", status: "NotFound" })).toBe(1);
    // Calls in process (the runtime resolving images, the daemon's own status) are no CRI requests.
    const text = await (await fetch(`${servin.url}/metrics`)).text();
    expect(text).not.toContain('transport="in-process"');
  });

  it('shows HTTP calls as transport="http" series, refused ones included', async () => {
    const post = (path: string, body: string) => fetch(`${servin.url}${path}`, { method: "POST", body });
    expect((await post("/v1/runtime/version", "{}")).status).toBe(200);
    expect((await post("/v1/runtime/container/status", "{not json")).status).toBe(400);
    expect(await requests({ transport: "http", rpc: "version", status: "OK" })).toBe(1);
    expect(await requests({ transport: "http", rpc: "containerStatus", status: "InvalidArgument" })).toBe(1);
    expect(await requests({ transport: "grpc", rpc: "version", status: "OK" })).toBe(1);
  });
});
