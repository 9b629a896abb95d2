/** createCriGrpcServer: the CRI (runtime.v1 and runtime.v1alpha2) over gRPC on a unix socket, optionally TCP. */
import { chmod } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import { type ChannelOptions, Server, ServerCredentials } from "@grpc/grpc-js";
import { CriError, type ImageService, type RuntimeService } from "@servin/cri-types";
import type { CallScope } from "./_call-scope.js";
import { type CriGrpcLogger, type HandlerContext, implementService, type VersionInfo } from "./_handlers.js";
import { IMAGE_METHODS, RUNTIME_METHODS } from "./_rpc-table.js";
import { prepareUnixSocket, removeSocketFile, SOCKET_MODE } from "./_unix-socket.js";
import { CRI_API_VERSIONS, type CriApiVersion, criServiceDefinitions } from "./proto.js";

export type { CriGrpcLogger, VersionInfo };

/** kubelet's own limit for CRI messages (16 MiB), both ways. */
export const CRI_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Server channel options: kubelet-sized messages, keepalive that never cuts a quiet GetContainerEvents stream. */
export const CRI_SERVER_CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  "grpc.max_receive_message_length": CRI_MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": CRI_MAX_MESSAGE_BYTES,
  // Ping idle connections every 2 minutes and drop peers that do not answer in
  // 20 s: a vanished kubelet frees its event streams, a quiet one keeps them.
  // No max_connection_idle/age: event streams may stay open for days.
  "grpc.keepalive_time_ms": 2 * 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
  "grpc.keepalive_permit_without_calls": 1,
});

/**
 * Default socket: /run/servin/servin.sock for root, $XDG_RUNTIME_DIR/servin/servin.sock otherwise.
 *
 * @example
 * defaultCriSocketPath(); // "/run/servin/servin.sock" as root
 */
export function defaultCriSocketPath(): string {
  const runtimeDir = process.getuid?.() === 0 ? "/run" : (process.env.XDG_RUNTIME_DIR ?? "/run");
  return `${runtimeDir}/servin/servin.sock`;
}

export interface CriGrpcServerOptions {
  runtime: RuntimeService;
  images: ImageService;
  /**
   * Unix socket to serve on. Default `defaultCriSocketPath()` when `tcp` is not
   * given either; `""` turns the socket off.
   */
  socketPath?: string;
  /** Also listen on TCP, e.g. "127.0.0.1:10010" ("host:0" picks a free port). Off unless given. */
  tcp?: string;
  logger?: CriGrpcLogger;
  /** Overrides of the Version answer (runtimeVersion = the servin version, …). */
  versionInfo?: VersionInfo;
  /** API packages to serve; default both "v1" and "v1alpha2". */
  apiVersions?: readonly CriApiVersion[];
  /** Extra grpc-js server options, merged over CRI_SERVER_CHANNEL_OPTIONS. */
  channelOptions?: ChannelOptions;
}

export interface CriGrpcAddress {
  socketPath?: string;
  tcpPort?: number;
}

export interface CriGrpcServer {
  /** Binds the socket (and TCP if asked) and starts serving. */
  listen(): Promise<CriGrpcAddress>;
  /**
   * Stops accepting calls, ends GetContainerEvents streams, lets in-flight
   * calls finish for up to `graceMs` (default 10 s), then cancels the rest.
   * Removes the socket file.
   */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_GRACE_MS = 10_000;

/**
 * Serves RuntimeService and ImageService as the Kubernetes CRI over gRPC.
 *
 * @example
 * const server = createCriGrpcServer({ runtime, images, socketPath: "/run/servin/servin.sock" });
 * await server.listen();
 * // crictl --runtime-endpoint unix:///run/servin/servin.sock version
 * await server.close();
 */
export function createCriGrpcServer(opts: CriGrpcServerOptions): CriGrpcServer {
  const logger = opts.logger ?? {};
  const socketPath = resolveSocketPath(opts);
  const scopes = new Set<CallScope>();
  const server = new Server({ ...CRI_SERVER_CHANNEL_OPTIONS, ...opts.channelOptions });

  for (const apiVersion of opts.apiVersions ?? CRI_API_VERSIONS) {
    const ctx: HandlerContext = {
      runtime: opts.runtime,
      images: opts.images,
      apiVersion,
      versionInfo: opts.versionInfo ?? {},
      logger,
      scopes,
    };
    const defs = criServiceDefinitions(apiVersion);
    server.addService(defs.RuntimeService, implementService(defs.RuntimeService, RUNTIME_METHODS, ctx));
    server.addService(defs.ImageService, implementService(defs.ImageService, IMAGE_METHODS, ctx));
  }

  let state: "new" | "listening" | "closed" = "new";
  let boundSocket: string | undefined;

  const bind = (address: string) =>
    new Promise<number>((resolve, reject) => {
      server.bindAsync(address, ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });

  return {
    async listen() {
      if (state !== "new") throw new Error(`grpc server: listen() called on a ${state} server`);
      state = "listening";
      const address: CriGrpcAddress = {};
      try {
        if (socketPath) {
          await prepareUnixSocket(socketPath);
          await bind(`unix://${socketPath}`).catch((err: Error) => {
            throw new Error(`grpc socket "${socketPath}": ${err.message}`, { cause: err });
          });
          boundSocket = socketPath;
          // kubelet runs as root; group access lets an operator group use crictl without root.
          await chmod(socketPath, SOCKET_MODE);
          address.socketPath = socketPath;
          logger.info?.(`cri grpc listening on unix://${socketPath}`);
        }
        if (opts.tcp) {
          const tcp = opts.tcp;
          address.tcpPort = await bind(tcp).catch((err: Error) => {
            throw new Error(`grpc tcp "${tcp}": ${err.message}`, { cause: err });
          });
          logger.info?.(`cri grpc listening on tcp ${tcp} (port ${address.tcpPort})`);
        }
      } catch (err) {
        server.forceShutdown();
        if (boundSocket) await removeSocketFile(boundSocket);
        state = "closed";
        throw err;
      }
      return address;
    },

    async close(graceMs = DEFAULT_GRACE_MS) {
      if (state === "closed") return;
      const wasListening = state === "listening";
      state = "closed";
      if (!wasListening) {
        server.forceShutdown();
        return;
      }
      const shuttingDown = new CriError("Unavailable", "servin is shutting down");
      // Event streams never finish by themselves; end them so that tryShutdown can complete.
      for (const scope of scopes) if (scope.longLived) scope.abort(shuttingDown);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          logger.warn?.(
            `cri grpc: ${scopes.size} call(s) still running after ${graceMs} ms; cancelling them`,
          );
          for (const scope of scopes) scope.abort(shuttingDown);
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (boundSocket) await removeSocketFile(boundSocket);
    },
  };
}

function resolveSocketPath(opts: CriGrpcServerOptions): string | undefined {
  if (opts.socketPath === undefined) return opts.tcp ? undefined : defaultCriSocketPath();
  if (opts.socketPath === "") {
    if (!opts.tcp) throw new Error("grpc server: socketPath is empty and no tcp address was given");
    return undefined;
  }
  return resolvePath(opts.socketPath);
}
