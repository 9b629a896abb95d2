/**
 * The access hook over real HTTP: one record per request of any route, the access check's 401s and
 * the router's 404s and 405s included, with the RPC the path names and the connection's peer.
 */
import { createImageService, createMemoryImageBackend } from "@servin/image-store";
import { createMemoryBackend, createMemoryStore, createRuntimeService } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AccessRecord, createCriApp, type ListeningServer, listenCriApp } from "../src/index.js";

const seen: AccessRecord[] = [];
let server: ListeningServer;
let close: () => Promise<void>;

beforeAll(async () => {
  const images = await createImageService({ backend: createMemoryImageBackend() });
  const runtime = await createRuntimeService({
    backend: createMemoryBackend(),
    images,
    store: createMemoryStore(),
  });
  const app = createCriApp({ runtime, images, token: "s3cret", onAccess: (r) => seen.push(r) });
  server = await listenCriApp(app, { host: "127.0.0.1", port: 0 });
  close = async () => {
    await server.close();
    await runtime.close();
    await images.close();
  };
});
afterAll(() => close?.());

const auth = { authorization: "Bearer s3cret" };

describe("onAccess", () => {
  it("sees answered, refused and unknown requests once each", async () => {
    seen.length = 0;
    const ok = await fetch(`${server.url}/v1/runtime/version`, { method: "POST", headers: auth, body: "{}" });
    expect(ok.status).toBe(200);
    const denied = await fetch(`${server.url}/v1/runtime/version`, { method: "POST", body: "{}" });
    expect(denied.status).toBe(401);
    const bad = await fetch(`${server.url}/v1/runtime/container/status`, {
      method: "POST",
      headers: auth,
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect((await fetch(`${server.url}/v1/nowhere`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    const summary = seen.map(({ method, path, rpc, status }) => ({ method, path, rpc, status }));
    expect(summary).toEqual([
      { method: "POST", path: "/v1/runtime/version", rpc: "version", status: 200 },
      { method: "POST", path: "/v1/runtime/version", rpc: "version", status: 401 },
      { method: "POST", path: "/v1/runtime/container/status", rpc: "containerStatus", status: 400 },
      { method: "GET", path: "/v1/nowhere", rpc: undefined, status: 404 },
      { method: "GET", path: "/health", rpc: undefined, status: 200 },
    ]);
    for (const r of seen) {
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect(r.peer).toMatchObject({
        remoteAddress: expect.stringMatching(/127\.0\.0\.1$/),
        localPort: server.port,
      });
    }
  });
});
