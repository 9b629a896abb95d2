/**
 * The real services for transport tests: @servin/runtime-core over its memory backend and
 * @servin/image-store over its memory image backend, plus per-method overrides for the few tests
 * that need a behaviour no backend has (a chosen error code, a call that never answers, a gate).
 */

import { join } from "node:path";
import type {
  CallOptions,
  ContainerEventResponse,
  GetEventsRequest,
  RuntimeService,
} from "@servin/cri-types";
import { createImageService, createMemoryImageBackend, type ServinImageService } from "@servin/image-store";
import {
  createMemoryBackend,
  createMemoryStore,
  createRuntimeService,
  type MemoryBackend,
  type ServinRuntimeService,
} from "@servin/runtime-core";
import {
  type CriGrpcClient,
  type CriGrpcServerOptions,
  createCriGrpcClient,
  createCriGrpcServer,
} from "../src/index.js";
import { tempDir } from "./_helpers.js";

export interface MemoryServices {
  runtime: ServinRuntimeService;
  images: ServinImageService;
  backend: MemoryBackend;
  close(): Promise<void>;
}

/** A fresh runtime and image service over memory backends, sharing nothing with other servers. */
export async function createMemoryServices(): Promise<MemoryServices> {
  const images = await createImageService({ backend: createMemoryImageBackend() });
  const backend = createMemoryBackend();
  const runtime = await createRuntimeService({ backend, images, store: createMemoryStore() });
  return {
    runtime,
    images,
    backend,
    async close() {
      await runtime.close();
      await images.close();
    },
  };
}

/**
 * `service` with the methods in `overrides` replaced (and any extra members added); every other
 * method is the real one, bound to the service. An override that wants the real behaviour calls the
 * original service itself.
 *
 * @example
 * const failing = withOverrides(runtime, {
 *   async reopenContainerLog() { throw CriError.unavailable("disk gone"); },
 * });
 */
export function withOverrides<S extends object, O extends Partial<S>>(service: S, overrides: O): S & O {
  return new Proxy(service, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return (overrides as Record<PropertyKey, unknown>)[prop];
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as S & O;
}

/** `runtime` counting its open GetContainerEvents subscriptions (counted from the call until the stream ends). */
export function countingSubscribers<S extends RuntimeService>(runtime: S): S & { subscriberCount(): number } {
  let open = 0;
  const inner: RuntimeService = runtime;
  const counted = withOverrides(inner as RuntimeService & { subscriberCount(): number }, {
    subscriberCount: () => open,
    getContainerEvents(req: GetEventsRequest, opts?: CallOptions): AsyncIterable<ContainerEventResponse> {
      const events = runtime.getContainerEvents(req, opts);
      open++;
      return (async function* () {
        try {
          yield* events;
        } finally {
          open--;
        }
      })();
    },
  });
  return counted as S & { subscriberCount(): number };
}

export interface MemoryGrpcServer {
  services: MemoryServices;
  server: ReturnType<typeof createCriGrpcServer>;
  socketPath: string;
  /** A grpc-js client on the socket. */
  cri: CriGrpcClient;
  close(): Promise<void>;
}

/**
 * The real gRPC server over fresh memory services on a unix socket in a temp dir, with a client:
 * the fixture of the transport tests.
 *
 * @example
 * const s = await startMemoryGrpcServer({ channelOptions: { "grpc.keepalive_time_ms": 100 } });
 * await s.cri.version({});
 * await s.close();
 */
export async function startMemoryGrpcServer(
  opts: Omit<CriGrpcServerOptions, "runtime" | "images" | "socketPath"> = {},
): Promise<MemoryGrpcServer> {
  const dir = await tempDir();
  const services = await createMemoryServices();
  const server = createCriGrpcServer({
    ...opts,
    runtime: services.runtime,
    images: services.images,
    socketPath: join(dir.path, "servin.sock"),
  });
  const socketPath = (await server.listen()).socketPath as string;
  const cri = createCriGrpcClient(`unix://${socketPath}`);
  return {
    services,
    server,
    socketPath,
    cri,
    async close() {
      cri.close();
      await server.close(2000);
      await services.close();
      await dir.remove();
    },
  };
}
