/**
 * The servin daemon: builds the runtime and image services over the configured
 * backends, and serves them over HTTP/JSON and gRPC at once. `close()` always
 * releases the sockets and flushes state (citty-style lifecycle guarantee).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createCriGrpcServer } from "@servin/cri-grpc";
import { createCriApp, type ListeningServer, listenCriApp } from "@servin/cri-http";
import {
  createDiskImageBackend,
  createImageService,
  createMemoryImageBackend,
  type RegistryConfig,
  type ServinImageService,
} from "@servin/image-store";
import { boundedLogger, type Logger } from "@servin/node-kit";
import {
  createFileStore,
  createMemoryBackend,
  createRuntimeService,
  type RuntimeBackend,
  type ServinRuntimeService,
} from "@servin/runtime-core";
import { createOciBackend, detectOciHost } from "@servin/runtime-oci";
import { type StreamingServer, startStreamingServer } from "@servin/streaming";
import type { ServinConfig } from "../config/config.js";
import { VERSION } from "../version.js";
import { lockRoot } from "./lock.js";
import { createDaemonMetrics } from "./metrics.js";
import { createPeerAdmission, hostOfHostPort, isLoopbackHost } from "./peer-cred.js";

export interface ServinDaemon {
  runtime: ServinRuntimeService;
  images: ServinImageService;
  backendName: string;
  http: ListeningServer;
  grpc?: { socketPath?: string; tcpPort?: number };
  /** The streaming server's base URL (Exec/Attach/PortForward answer URLs under it); absent with the memory backend. */
  streaming?: { url: string };
  close(): Promise<void>;
}

/** Chooses the runtime backend: "auto" means oci when this host can run it (root, runc, conmon), else memory. */
async function chooseBackend(config: ServinConfig, logger: Logger): Promise<RuntimeBackend> {
  let name = config.backend;
  if (name === "auto") {
    const host = await detectOciHost();
    name = host.ok ? "oci" : "memory";
    if (!host.ok) logger.warn(`using the memory backend (simulated containers): ${host.problems.join("; ")}`);
  }
  if (name === "memory") return createMemoryBackend();
  return createOciBackend({
    root: config.root,
    stateDir: config.stateDir,
    ...(Object.keys(config.runtimes).length > 0 ? { runtimes: config.runtimes } : {}),
    defaultRuntime: config.defaultRuntime,
    ...(config.conmonPath ? { conmonPath: config.conmonPath } : {}),
    ...(config.pausePath ? { pausePath: config.pausePath } : {}),
    cgroupParent: config.cgroupParent,
    cni: {
      confDir: config.cniConfDir,
      binDirs: config.cniBinDirs,
      ...(config.cniCacheDir ? { cacheDir: config.cniCacheDir } : {}),
    },
    logger,
  });
}

/** servin's `[registries."host"]` tables → the image store's RegistryConfig. */
export function toRegistryConfig(config: ServinConfig): RegistryConfig {
  const mirrors: Record<string, string[]> = {};
  const insecure: string[] = [];
  const upstreamFallbackFor: Record<string, boolean> = {};
  for (const [host, def] of Object.entries(config.registries)) {
    if (def.mirrors && def.mirrors.length > 0) mirrors[host] = def.mirrors;
    if (def.insecure) insecure.push(host);
    if (def.upstreamFallback !== undefined) upstreamFallbackFor[host] = def.upstreamFallback;
  }
  return {
    mirrors,
    insecure,
    upstreamFallback: config.upstreamFallback,
    upstreamFallbackFor,
    ...(config.authFile ? { authConfigPath: config.authFile } : {}),
  };
}

const PEER_DENIED =
  "this connection's user may not use servin: run the client as root, add its uid or group to " +
  "[server] allowed_uids / allowed_gids in servin's config file, or start servin with --token-file " +
  "and send Authorization: Bearer <token>";

async function readToken(path: string): Promise<string | undefined> {
  if (!path) return undefined;
  let token: string;
  try {
    token = (await readFile(path, "utf8")).trim();
  } catch (err) {
    throw new Error(`cannot read --token-file ${path}: ${(err as Error).message}`);
  }
  if (!token) throw new Error(`--token-file ${path} is empty`);
  return token;
}

/**
 * Starts servin with the given configuration.
 *
 * @example
 * const daemon = await startServinDaemon({ ...defaultConfig(), backend: "memory", imageBackend: "memory", port: 0 }, consola);
 * console.log(daemon.http.url);
 * await daemon.close();
 */
export async function startServinDaemon(config: ServinConfig, baseLogger: Logger): Promise<ServinDaemon> {
  // Every entry bounded and linear to format: log lines quote client-sent strings (issue 14).
  const logger = boundedLogger(baseLogger);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse())
      await step().catch((err) => logger.error("shutdown step failed", err));
    cleanups.length = 0;
  };
  try {
    const token = await readToken(config.tokenFile);
    // Beyond loopback the kernel cannot say who the peer is: only a token can (issue 14).
    if (!token && !isLoopbackHost(config.host))
      throw new Error(
        `--host ${config.host}: listening beyond loopback requires --token-file (clients then send Authorization: Bearer <token>)`,
      );
    if (!token && config.grpcTcp && !isLoopbackHost(hostOfHostPort(config.grpcTcp)))
      throw new Error(
        `--grpc-tcp ${config.grpcTcp}: listening beyond loopback requires --token-file (clients then send metadata authorization: Bearer <token>)`,
      );
    const trustPeer = token
      ? undefined
      : createPeerAdmission({
          allowedUids: config.allowedUids,
          allowedGids: config.allowedGids,
          onDecision: (peer, uid, admitted) =>
            logger.debug(
              `peer ${peer.remoteAddress}:${peer.remotePort} uid ${uid ?? "unknown"}: ${admitted ? "admitted" : "denied"}`,
            ),
        });
    cleanups.push(await lockRoot(config.root));

    // One metrics observation per CRI call whichever edge it came by: the services observe what they
    // answer (instrument()), the transports what they refuse before a service sees it.
    type Observed = {
      transport: "http" | "grpc" | "in-process";
      rpc: string;
      code: string;
      durationMs: number;
    };
    let observeCall = (_o: Observed) => {};
    const onCall = (o: Observed) => observeCall(o);

    let runtime: ServinRuntimeService | undefined;
    const images = await createImageService({
      onCall,
      backend:
        config.imageBackend === "memory"
          ? createMemoryImageBackend()
          : await createDiskImageBackend({
              root: config.root,
              registries: toRegistryConfig(config),
              limits: config.imageLimits,
              logger,
            }),
      isImageInUse: (id) => runtime?.isImageInUse(id) ?? false,
      logger,
    });
    cleanups.push(() => images.close());

    const backend = await chooseBackend(config, logger);
    // Listen first (issue 14): recovery runs in the background once both servers answer.
    let listening!: () => void;
    const serversListen = new Promise<void>((resolve) => {
      listening = resolve;
    });
    // The streaming server needs the service's session runtime, the service its URLs: bound late.
    let streamingServer: StreamingServer | undefined;
    const streaming = (): StreamingServer => {
      if (!streamingServer) throw new Error("the streaming server is not listening yet");
      return streamingServer;
    };
    runtime = await createRuntimeService({
      onCall,
      ...(backend.streaming
        ? {
            streaming: {
              getExec: (req) => streaming().getExec(req),
              getAttach: (req) => streaming().getAttach(req),
              getPortForward: (req) => streaming().getPortForward(req),
            },
          }
        : {}),
      backend,
      images,
      recoverAfter: serversListen,
      // One metadata store per backend: records of real containers must never be reconciled by the simulator.
      store: await createFileStore(join(config.root, "runtime", backend.name)),
      runtimeName: "servin",
      runtimeVersion: VERSION,
      logger,
    });
    const service = runtime;
    cleanups.push(() => service.close());
    if (service.streamingRuntime) {
      const server = await startStreamingServer({
        runtime: service.streamingRuntime,
        address: config.streamingAddress,
        port: config.streamingPort,
        streamIdleTimeoutMs: Math.round(config.streamingIdleTimeout * 1000),
      });
      streamingServer = server;
      // Closed before the runtime service: sessions end their helpers while the backend still runs.
      cleanups.push(() => server.close());
      logger.info(`streaming server on ${server.url}`);
    }

    const started = Date.now();
    const metrics = createDaemonMetrics(() => service.counts());
    observeCall = ({ transport, rpc, code, durationMs }) => {
      if (transport !== "in-process") metrics.observe({ transport, rpc, status: code, durationMs });
    };
    const app = createCriApp({
      runtime: service,
      images,
      ...(token ? { token } : {}),
      ...(trustPeer ? { trustPeer, peerDeniedMessage: PEER_DENIED } : {}),
      logger,
      health: () => ({
        uptime_seconds: Math.round((Date.now() - started) / 1000),
        backend: backend.name,
        images: config.imageBackend,
      }),
      metrics: () => metrics.render(),
      // `servin run` puts its pods' logs under servin's own root (kubelet's are under /var/log/pods).
      info: () => ({ podLogRoot: join(config.root, "pod-logs") }),
      ...(config.imageBackend === "disk"
        ? {
            imageTransfer: {
              importImage: (archive: AsyncIterable<Uint8Array>) => images.importImageStream(archive),
              exportImage: (ref: string) => images.exportImageStream(ref),
            },
          }
        : {}),
      onRefused: onCall,
    });
    const http = await listenCriApp(app, { host: config.host, port: config.port });
    cleanups.push(() => http.close());

    let grpc: ServinDaemon["grpc"];
    if (config.grpcSocket || config.grpcTcp) {
      const server = createCriGrpcServer({
        onRefused: onCall,
        runtime: service,
        images,
        ...(config.grpcSocket ? { socketPath: config.grpcSocket } : {}),
        ...(config.grpcTcp ? { tcp: config.grpcTcp } : {}),
        // TCP callers: the same rule as HTTP (the unix socket is guarded by its file mode).
        ...(config.grpcTcp ? { tcpAuth: token ? { token } : { ...(trustPeer ? { trustPeer } : {}) } } : {}),
        logger,
      });
      grpc = await server.listen();
      cleanups.push(() => server.close(5000));
    }
    listening();

    return {
      runtime: service,
      images,
      backendName: backend.name,
      http,
      ...(grpc ? { grpc } : {}),
      ...(streamingServer ? { streaming: { url: streamingServer.url } } : {}),
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
