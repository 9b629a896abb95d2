/**
 * Metrics per RPC over real HTTP: the services' instrument() observes every call they answer,
 * labelled transport "http" by the app's call options; the app observes what it refuses before
 * a service sees it (unreadable body, malformed message). Every call is observed exactly once.
 */
import type { CallObservation } from "@servin/cri-types";
import { createImageService, createMemoryImageBackend } from "@servin/image-store";
import { createMemoryBackend, createMemoryStore, createRuntimeService } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, type ListeningServer, listenCriApp } from "../src/index.js";

const seen: { service: string; rpc: string; transport: string; code: string }[] = [];
const errors: unknown[][] = [];
const logger = { debug() {}, info() {}, warn() {}, error: (...args: unknown[]) => errors.push(args) };
const record = ({ durationMs, ...o }: Omit<CallObservation, "code"> & { code: string }) => {
  expect(durationMs).toBeGreaterThanOrEqual(0);
  seen.push(o);
};

let server: ListeningServer;
let close: () => Promise<void>;
let backend: ReturnType<typeof createMemoryBackend>;

beforeAll(async () => {
  const images = await createImageService({ backend: createMemoryImageBackend(), onCall: record, logger });
  backend = createMemoryBackend();
  const runtime = await createRuntimeService({
    backend,
    images,
    store: createMemoryStore(),
    onCall: record,
    logger,
  });
  server = await listenCriApp(createCriApp({ runtime, images, logger, onRefused: record }), {
    host: "127.0.0.1",
    port: 0,
  });
  close = async () => {
    await server.close();
    await runtime.close();
    await images.close();
  };
});

afterAll(async () => {
  await close?.();
});

const post = (path: string, body: string) =>
  fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

describe("HTTP calls are observed once each, as transport http", () => {
  it("counts answered, failed and refused calls of both services", async () => {
    seen.length = 0;
    expect((await post("/v1/runtime/version", "{}")).status).toBe(200);
    expect((await post("/v1/runtime/container/list", "{}")).status).toBe(200);
    expect((await post("/v1/image/list", "{}")).status).toBe(200);
    expect((await post("/v1/runtime/container/stop", '{"container_id":"nosuch"}')).status).toBe(404);
    expect((await post("/v1/runtime/container/stop", "{not json")).status).toBe(400);
    expect((await post("/v1/runtime/container/stop", "{}")).status).toBe(400);
    expect(seen).toEqual([
      { service: "runtime", rpc: "version", transport: "http", code: "OK" },
      { service: "runtime", rpc: "listContainers", transport: "http", code: "OK" },
      { service: "image", rpc: "listImages", transport: "http", code: "OK" },
      { service: "runtime", rpc: "stopContainer", transport: "http", code: "NotFound" },
      { service: "runtime", rpc: "stopContainer", transport: "http", code: "InvalidArgument" },
      { service: "runtime", rpc: "stopContainer", transport: "http", code: "InvalidArgument" },
    ]);
  });

  it("answers a backend fault 500 without its stack, logged once with it", async () => {
    seen.length = 0;
    errors.length = 0;
    backend.failNext("runSandbox", new Error("netns busy"));
    const res = await post(
      "/v1/runtime/sandbox/run",
      JSON.stringify({ config: { metadata: { name: "web", namespace: "default", uid: "u1" } } }),
    );
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe("Internal");
    expect(text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(seen).toEqual([{ service: "runtime", rpc: "runPodSandbox", transport: "http", code: "Internal" }]);
    const logged = errors.filter((args) =>
      args.some((a) => a instanceof Error && a.message === "netns busy"),
    );
    expect(logged).toHaveLength(1);
  });
});
