/**
 * Metrics per RPC over real gRPC: the services' instrument() observes every call they answer,
 * labelled transport "grpc" by the handlers' call options; the server observes what it refuses
 * before a service sees it. Every call is observed exactly once.
 */
import { join } from "node:path";
import type { CallObservation } from "@servin/cri-types";
import { createImageService, createMemoryImageBackend } from "@servin/image-store";
import { createMemoryBackend, createMemoryStore, createRuntimeService } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriGrpcClient, createCriGrpcServer } from "../src/index.js";
import { rawServerStream, rawUnary, tempDir } from "./_helpers.js";

const seen: Omit<CallObservation, "durationMs">[] = [];
const errors: unknown[][] = [];
const logger = {
  debug() {},
  info() {},
  warn() {},
  error: (...args: unknown[]) => errors.push(args),
};
const record = ({ durationMs, ...o }: CallObservation) => {
  expect(durationMs).toBeGreaterThanOrEqual(0);
  seen.push(o);
};

let dir: Awaited<ReturnType<typeof tempDir>>;
let close: () => Promise<void>;
let target: string;
let backend: ReturnType<typeof createMemoryBackend>;

beforeAll(async () => {
  dir = await tempDir();
  const images = await createImageService({ backend: createMemoryImageBackend(), onCall: record, logger });
  backend = createMemoryBackend();
  const runtime = await createRuntimeService({
    backend,
    images,
    store: createMemoryStore(),
    onCall: record,
    logger,
  });
  const server = createCriGrpcServer({
    runtime,
    images,
    socketPath: join(dir.path, "servin.sock"),
    onRefused: record,
    logger,
  });
  target = `unix://${(await server.listen()).socketPath}`;
  close = async () => {
    await server.close(2000);
    await runtime.close();
    await images.close();
  };
});

afterAll(async () => {
  await close?.();
  await dir?.remove();
});

describe("gRPC calls are observed once each, as transport grpc", () => {
  it("counts answered, failed and refused calls of both services", async () => {
    const cri = createCriGrpcClient(target);
    try {
      seen.length = 0;
      await cri.version({});
      await cri.listContainers({});
      await cri.listImages({});
      await expect(cri.stopContainer({ containerId: "nosuch", timeout: 0 })).rejects.toMatchObject({
        code: "NotFound",
      });
      // Refused by the handler's decoder before any service sees it.
      expect((await rawUnary(target, "RuntimeService", "StopContainer", { timeout: 1 })).code).toBe(3);
      // A Stream* variant is one call of its List RPC.
      expect((await rawServerStream(target, "RuntimeService", "StreamContainers", {})).code).toBe(0);
      expect(seen).toEqual([
        { service: "runtime", rpc: "version", transport: "grpc", code: "OK" },
        { service: "runtime", rpc: "listContainers", transport: "grpc", code: "OK" },
        { service: "image", rpc: "listImages", transport: "grpc", code: "OK" },
        { service: "runtime", rpc: "stopContainer", transport: "grpc", code: "NotFound" },
        { service: "runtime", rpc: "stopContainer", transport: "grpc", code: "InvalidArgument" },
        { service: "runtime", rpc: "listContainers", transport: "grpc", code: "OK" },
      ]);
    } finally {
      cri.close();
    }
  });

  it("answers a backend fault INTERNAL without its stack, logged once with it", async () => {
    const cri = createCriGrpcClient(target);
    try {
      seen.length = 0;
      errors.length = 0;
      backend.failNext("runSandbox", new Error("netns busy"));
      const err = await cri
        .runPodSandbox({ config: { metadata: { name: "web", namespace: "default", uid: "u1", attempt: 0 } } })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "Internal" });
      expect(String((err as Error).message)).not.toMatch(/\n\s+at /);
      expect(seen).toEqual([
        { service: "runtime", rpc: "runPodSandbox", transport: "grpc", code: "Internal" },
      ]);
      const logged = errors.filter((args) =>
        args.some((a) => a instanceof Error && a.message === "netns busy"),
      );
      expect(logged).toHaveLength(1);
      expect((logged[0]!.find((a) => a instanceof Error) as Error).stack).toContain("netns busy");
    } finally {
      cri.close();
    }
  });
});
