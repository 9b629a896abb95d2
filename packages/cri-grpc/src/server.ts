/** createCriGrpcServer: the CRI (runtime.v1 and runtime.v1alpha2) over gRPC on a unix socket, optionally TCP. */
import { chmod } from "node:fs/promises";
import type { Server as NetServer, Socket } from "node:net";
import { resolve as resolvePath } from "node:path";
import type { ChannelOptions } from "@grpc/grpc-js";
import { RPCS, type RpcName } from "@servin/cri-messages";
import { type CallObserver, CriError, type ImageService, type RuntimeService } from "@servin/cri-types";
import { defaultPaths, type Logger, silentLogger } from "@servin/node-kit";
import { CallScopes } from "./_call-scope.js";
import { type HandlerContext, implementService } from "./_handlers.js";
import { listen, parseHostPort, stopListening } from "./_listeners.js";
import { IMAGE_METHODS, RUNTIME_METHODS } from "./_rpc-table.js";
import { type Admission, bearerTokenAdmission, untrustedPeerAdmission } from "./_tcp-auth.js";
import { prepareUnixSocket, removeSocketFile, SOCKET_MODE } from "./_unix-socket.js";
import type { H2ServerConnection } from "./h2/connection.js";
import { type GrpcMethod, type GrpcServerCall, type GrpcStatusObject, serveGrpc } from "./h2/grpc.js";
import type { CriGrpcTcpAuth, TcpPeer, VersionInfo } from "./options.js";
import { CRI_API_VERSIONS, type CriApiVersion, criServiceDefinitions } from "./proto.js";
import { CRI_CODE_OF_GRPC } from "./status.js";

export type { CriGrpcTcpAuth, TcpPeer, VersionInfo };

/** kubelet's own limit for CRI messages (16 MiB), both ways. */
export const CRI_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** Server options: kubelet-sized messages, keepalive that never cuts a quiet GetContainerEvents stream. */
export const CRI_SERVER_CHANNEL_OPTIONS: Readonly<ChannelOptions> = Object.freeze({
  "grpc.max_receive_message_length": CRI_MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": CRI_MAX_MESSAGE_BYTES,
  // Ping every connection every 2 minutes, with calls open or not (the transport has no
  // permit_without_calls switch), and drop peers that do not answer in 20 s: a vanished kubelet
  // frees its event streams, a quiet one keeps them. No max_connection_idle/age: event streams
  // may stay open for days.
  "grpc.keepalive_time_ms": 2 * 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
});

/** Open TCP connections at most, by default. */
export const DEFAULT_MAX_TCP_CONNECTIONS = 256;

/** How often, at most, the warning about dropped TCP connections is repeated. */
const DROP_WARNING_INTERVAL_MS = 10_000;

/** Caps `listener`'s open connections; dropped ones are counted and told at most every 10 s. */
function limitConnections(listener: NetServer, max: number, logger: Logger): void {
  listener.maxConnections = max;
  let dropped = 0;
  let warnedAt = Number.NEGATIVE_INFINITY;
  listener.on("drop", (peer?: { remoteAddress?: string; remotePort?: number }) => {
    dropped++;
    const now = performance.now();
    if (now - warnedAt < DROP_WARNING_INTERVAL_MS) return;
    warnedAt = now;
    logger.warn(
      `cri grpc: ${max} tcp connections open (maxTcpConnections): closed ${dropped} new one(s), the last from ${peer?.remoteAddress ?? "?"}:${peer?.remotePort ?? "?"}`,
    );
    dropped = 0;
  });
}

/** The grpc option names this server honours; any other is refused rather than ignored. */
const HONOURED_CHANNEL_OPTIONS: ReadonlySet<string> = new Set(Object.keys(CRI_SERVER_CHANNEL_OPTIONS));

/** Every option named is honoured and a whole number ≥ 0, or a TypeError names the one that is not. */
function checkChannelOptions(options: ChannelOptions | undefined): Readonly<Record<string, number>> {
  for (const [name, value] of Object.entries(options ?? {})) {
    if (!HONOURED_CHANNEL_OPTIONS.has(name)) {
      throw new TypeError(
        `cri grpc: channelOptions: ${JSON.stringify(name)} is not supported (supported: ${[...HONOURED_CHANNEL_OPTIONS].join(", ")})`,
      );
    }
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(
        `cri grpc: channelOptions: ${JSON.stringify(name)} must be a whole number ≥ 0, got ${JSON.stringify(value)}`,
      );
    }
  }
  return (options ?? {}) as Record<string, number>;
}

export interface CriGrpcServerOptions {
  runtime: RuntimeService;
  images: ImageService;
  /**
   * Unix socket to serve on. Default `defaultPaths().grpcSocket` (node-kit) when `tcp` is not
   * given either; `""` turns the socket off.
   */
  socketPath?: string;
  /** Also listen on TCP, e.g. "127.0.0.1:10010" ("host:0" picks a free port). Off unless given. */
  tcp?: string;
  /**
   * Who may call over TCP. Unix socket connections are guarded by the socket
   * file's mode and never checked. With `token`, a TCP call without
   * `authorization: Bearer <token>` is UNAUTHENTICATED; else with `trustPeer`,
   * each connection is judged once when accepted and calls on an untrusted one
   * are PERMISSION_DENIED; with neither, TCP is open.
   */
  tcpAuth?: CriGrpcTcpAuth;
  /**
   * Open TCP connections at most (default 256): one more is closed as it is accepted, and a warning
   * says so, so that TCP peers cannot take every fd the daemon has (runc, conmon and the store need
   * them). The unix socket, guarded by its file mode, has no limit.
   */
  maxTcpConnections?: number;
  logger?: Logger;
  /** Overrides of the Version answer (runtimeVersion = the servin version, …). */
  versionInfo?: VersionInfo;
  /** API packages to serve; default both "v1" and "v1alpha2". */
  apiVersions?: readonly CriApiVersion[];
  /**
   * Overrides of CRI_SERVER_CHANNEL_OPTIONS (grpc's option names): `grpc.max_receive_message_length`,
   * `grpc.max_send_message_length`, `grpc.keepalive_time_ms` and `grpc.keepalive_timeout_ms`, each a
   * whole number ≥ 0. Any other name, or another value, is a TypeError from `createCriGrpcServer`.
   */
  channelOptions?: ChannelOptions;
  /**
   * Observes each call refused before a service saw it (malformed message, …): with the
   * services' own `onCall` observers, every call is observed exactly once.
   */
  onRefused?: CallObserver;
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
  const logger = opts.logger ?? silentLogger;
  const socketPath = resolveSocketPath(opts);
  const tcpAddress = opts.tcp ? parseHostPort(opts.tcp) : undefined;
  const scopes = new CallScopes();

  // The defaults name all four options and the overrides are checked numbers: each is a number here.
  const options = { ...CRI_SERVER_CHANNEL_OPTIONS, ...checkChannelOptions(opts.channelOptions) } as Readonly<
    Record<string, number>
  >;
  const maxTcpConnections = opts.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS;
  if (!Number.isSafeInteger(maxTcpConnections) || maxTcpConnections < 1) {
    throw new TypeError(
      `cri grpc: maxTcpConnections must be a whole number ≥ 1, got ${JSON.stringify(opts.maxTcpConnections)}`,
    );
  }
  const methods = new Map<string, GrpcMethod>();
  /** path → the RPC it serves, to name calls refused before a handler ran. */
  const rpcOfPath = new Map<string, RpcName>();
  for (const apiVersion of opts.apiVersions ?? CRI_API_VERSIONS) {
    const ctx: HandlerContext = {
      services: { runtime: opts.runtime, image: opts.images },
      apiVersion,
      versionInfo: opts.versionInfo ?? {},
      logger,
      scopes,
      onRefused: opts.onRefused,
    };
    const defs = criServiceDefinitions(apiVersion);
    for (const [definition, table] of [
      [defs.RuntimeService, RUNTIME_METHODS],
      [defs.ImageService, IMAGE_METHODS],
    ] as const) {
      for (const method of implementService(definition, table, ctx)) methods.set(method.path, method);
      for (const [name, def] of Object.entries(definition)) {
        const spec = table[name];
        if (spec && spec.kind !== "unimplemented") rpcOfPath.set(def.path, spec.rpc);
      }
    }
  }

  // Who may call is decided per connection (by where it was accepted), then per call.
  const token = opts.tcpAuth?.token;
  const trustPeer = token ? undefined : opts.tcpAuth?.trustPeer;
  const tokenAdmission = token ? bearerTokenAdmission(token) : undefined;
  const onRefused = (call: GrpcServerCall, status: GrpcStatusObject) => {
    const rpc = rpcOfPath.get(call.path);
    if (!rpc) return;
    const code = CRI_CODE_OF_GRPC[status.code] ?? "Internal";
    opts.onRefused?.({ service: RPCS[rpc].service, rpc, transport: "grpc", code, durationMs: 0 });
    if (code === "Unauthenticated") logger.warn(`cri grpc: ${call.path} refused: ${status.details}`);
    else logger.debug(`cri grpc: ${call.path} refused: ${code}: ${status.details}`);
  };
  const maxReceiveMessageBytes = options["grpc.max_receive_message_length"]!;
  const maxSendMessageBytes = options["grpc.max_send_message_length"]!;
  const limits = {
    keepaliveTimeMs: options["grpc.keepalive_time_ms"]!,
    keepaliveTimeoutMs: options["grpc.keepalive_timeout_ms"]!,
  };

  let state: "new" | "listening" | "closed" = "new";
  let boundSocket: string | undefined;
  const listeners: NetServer[] = [];
  const connections = new Set<Socket>();
  const sessions = new Set<H2ServerConnection>();
  let idle: (() => void) | undefined;

  const serve = (socket: Socket, admit: Admission | undefined) => {
    if (socket.destroyed || state === "closed") {
      socket.destroy();
      return;
    }
    const session = serveGrpc(socket, {
      methods,
      admit,
      onRefused,
      maxReceiveMessageBytes,
      maxSendMessageBytes,
      limits,
      onProtocolError: (err) => logger.debug(`cri grpc: dropping a connection: ${err.message}`),
      onClose: () => {
        sessions.delete(session);
        if (sessions.size === 0) idle?.();
      },
    });
    sessions.add(session);
  };
  const track = (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
    // A reset must not become an unhandled error.
    socket.on("error", () => undefined);
  };
  const acceptTcp = (socket: Socket) => {
    track(socket);
    if (!trustPeer) {
      serve(socket, tokenAdmission);
      return;
    }
    const peer: TcpPeer = {
      remoteAddress: socket.remoteAddress ?? "",
      remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "",
      localPort: socket.localPort ?? 0,
    };
    // Bytes the client sends meanwhile wait in the socket (no data listener yet).
    Promise.resolve()
      .then(() => trustPeer(peer))
      .catch((err: Error) => {
        logger.warn(
          `cri grpc: judging tcp peer ${peer.remoteAddress}:${peer.remotePort} failed: ${err.message}`,
        );
        return false;
      })
      .then((trusted) => serve(socket, trusted === true ? undefined : untrustedPeerAdmission));
  };

  return {
    async listen() {
      if (state !== "new") throw new Error(`grpc server: listen() called on a ${state} server`);
      state = "listening";
      const address: CriGrpcAddress = {};
      try {
        if (socketPath) {
          await prepareUnixSocket(socketPath);
          const listener = await listen({ path: socketPath }, (socket) => {
            track(socket);
            serve(socket, undefined);
          }).catch((err: Error) => {
            throw new Error(`grpc socket "${socketPath}": ${err.message}`, { cause: err });
          });
          listeners.push(listener);
          boundSocket = socketPath;
          // kubelet runs as root; group access lets an operator group use crictl without root.
          await chmod(socketPath, SOCKET_MODE);
          address.socketPath = socketPath;
          logger.info(`cri grpc listening on unix://${socketPath}`);
        }
        if (tcpAddress) {
          const tcp = opts.tcp;
          const listener = await listen(tcpAddress, acceptTcp).catch((err: Error) => {
            throw new Error(`grpc tcp "${tcp}": ${err.message}`, { cause: err });
          });
          listeners.push(listener);
          limitConnections(listener, maxTcpConnections, logger);
          const bound = listener.address();
          address.tcpPort = typeof bound === "object" && bound ? bound.port : tcpAddress.port;
          const rule = token ? "bearer token" : trustPeer ? "trusted peers" : "open";
          logger.info(`cri grpc listening on tcp ${tcp} (port ${address.tcpPort}, ${rule})`);
        }
      } catch (err) {
        for (const listener of listeners) stopListening(listener);
        for (const socket of connections) socket.destroy();
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
      for (const listener of listeners) stopListening(listener);
      if (!wasListening) return;
      const shuttingDown = new CriError("Unavailable", "servin is shutting down");
      // Event streams never finish by themselves; end them so that the connections can close.
      for (const scope of scopes) if (scope.longLived) scope.abort(shuttingDown);
      // GOAWAY: no new calls; each connection closes once its calls are answered.
      for (const session of sessions) session.goAway();
      const drained = new Promise<void>((resolve) => {
        idle = resolve;
        if (sessions.size === 0) resolve();
      });
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      const outcome = await Promise.race([drained, graceOver]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        logger.warn(`cri grpc: ${scopes.size} call(s) still running after ${graceMs} ms; cancelling them`);
        for (const scope of scopes) scope.abort(shuttingDown);
        for (const session of sessions) session.destroy();
      }
      // Connections that never became sessions (a peer still being judged, a half-open one) end here.
      for (const socket of connections) socket.destroy();
      if (boundSocket) await removeSocketFile(boundSocket);
    },
  };
}

function resolveSocketPath(opts: CriGrpcServerOptions): string | undefined {
  if (opts.socketPath === undefined) return opts.tcp ? undefined : defaultPaths().grpcSocket;
  if (opts.socketPath === "") {
    if (!opts.tcp) throw new Error("grpc server: socketPath is empty and no tcp address was given");
    return undefined;
  }
  return resolvePath(opts.socketPath);
}
