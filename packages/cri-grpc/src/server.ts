/** createCriGrpcServer: the CRI (runtime.v1 and runtime.v1alpha2) over gRPC on a unix socket, optionally TCP. */
import { chmod } from "node:fs/promises";
import type { Server as NetServer, Socket } from "node:net";
import { resolve as resolvePath } from "node:path";
import {
  type ChannelOptions,
  type ConnectionInjector,
  Server,
  ServerCredentials,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { type CallObserver, CriError, type ImageService, type RuntimeService } from "@servin/cri-types";
import { defaultPaths, type Logger, silentLogger } from "@servin/node-kit";
import { rewriteAuthority } from "./_authority-rewrite.js";
import type { CallScope } from "./_call-scope.js";
import { type HandlerContext, implementService } from "./_handlers.js";
import { listen, parseHostPort, stopListening } from "./_listeners.js";
import { IMAGE_METHODS, RUNTIME_METHODS } from "./_rpc-table.js";
import { bearerTokenInterceptor, denyAllInterceptor } from "./_tcp-auth.js";
import { prepareUnixSocket, removeSocketFile, SOCKET_MODE } from "./_unix-socket.js";
import type { CriGrpcTcpAuth, TcpPeer, VersionInfo } from "./options.js";
import { CRI_API_VERSIONS, type CriApiVersion, criServiceDefinitions } from "./proto.js";

export type { CriGrpcTcpAuth, TcpPeer, VersionInfo };

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
  logger?: Logger;
  /** Overrides of the Version answer (runtimeVersion = the servin version, …). */
  versionInfo?: VersionInfo;
  /** API packages to serve; default both "v1" and "v1alpha2". */
  apiVersions?: readonly CriApiVersion[];
  /** Extra grpc-js server options, merged over CRI_SERVER_CHANNEL_OPTIONS. */
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
  const scopes = new Set<CallScope>();

  // One grpc-js server per admission rule, each with the same handlers: grpc-js gives a
  // handler no way to know which connection a call came on, but each server has its own
  // connection injector, so the rule is chosen by where a connection is injected.
  const servers: Server[] = [];
  const makeInjector = (interceptors: ServerInterceptor[]): ConnectionInjector => {
    const server = new Server({ ...CRI_SERVER_CHANNEL_OPTIONS, ...opts.channelOptions, interceptors });
    for (const apiVersion of opts.apiVersions ?? CRI_API_VERSIONS) {
      const ctx: HandlerContext = {
        runtime: opts.runtime,
        images: opts.images,
        apiVersion,
        versionInfo: opts.versionInfo ?? {},
        logger,
        scopes,
        onRefused: opts.onRefused,
      };
      const defs = criServiceDefinitions(apiVersion);
      server.addService(defs.RuntimeService, implementService(defs.RuntimeService, RUNTIME_METHODS, ctx));
      server.addService(defs.ImageService, implementService(defs.ImageService, IMAGE_METHODS, ctx));
    }
    servers.push(server);
    return server.createConnectionInjector(ServerCredentials.createInsecure());
  };
  const open = makeInjector([]);
  const token = opts.tcpAuth?.token;
  const trustPeer = token ? undefined : opts.tcpAuth?.trustPeer;
  const tcpInjector = tcpAddress && token ? makeInjector([bearerTokenInterceptor(token)]) : open;
  const denied =
    tcpAddress && trustPeer
      ? makeInjector([denyAllInterceptor("this tcp peer is not trusted; use the unix socket")])
      : undefined;

  let state: "new" | "listening" | "closed" = "new";
  let boundSocket: string | undefined;
  const listeners: NetServer[] = [];
  const connections = new Set<Socket>();

  /** Every connection, unix or TCP, reaches grpc-js through the authority rewrite. */
  const inject = (injector: ConnectionInjector, socket: Socket) => {
    if (socket.destroyed || state === "closed") {
      socket.destroy();
      return;
    }
    injector.injectConnection(
      rewriteAuthority(socket, {
        onProtocolError: (err) => logger.debug(`cri grpc: dropping a connection: ${err.message}`),
      }),
    );
  };
  const track = (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
    // Until grpc-js has the connection, a reset must not become an unhandled error.
    socket.on("error", () => undefined);
  };
  const acceptTcp = (socket: Socket) => {
    track(socket);
    if (!trustPeer || !denied) {
      inject(tcpInjector, socket);
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
      .then((trusted) => inject(trusted === true ? open : denied, socket));
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
            inject(open, socket);
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
          const bound = listener.address();
          address.tcpPort = typeof bound === "object" && bound ? bound.port : tcpAddress.port;
          const rule = token ? "bearer token" : trustPeer ? "trusted peers" : "open";
          logger.info(`cri grpc listening on tcp ${tcp} (port ${address.tcpPort}, ${rule})`);
        }
      } catch (err) {
        for (const listener of listeners) stopListening(listener);
        for (const server of servers) server.forceShutdown();
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
      if (!wasListening) {
        for (const server of servers) server.forceShutdown();
        return;
      }
      const shuttingDown = new CriError("Unavailable", "servin is shutting down");
      // Event streams never finish by themselves; end them so that tryShutdown can complete.
      for (const scope of scopes) if (scope.longLived) scope.abort(shuttingDown);
      const drained = servers.map(
        (server) => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
      );
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      const outcome = await Promise.race([Promise.all(drained), graceOver]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        logger.warn(`cri grpc: ${scopes.size} call(s) still running after ${graceMs} ms; cancelling them`);
        for (const scope of scopes) scope.abort(shuttingDown);
        for (const server of servers) server.forceShutdown();
      }
      // Connections grpc-js never took over (a peer still being judged, a half-open one) end here.
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
