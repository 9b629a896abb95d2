/**
 * The servin daemon: builds the runtime and image services over the configured
 * backends, and serves them over HTTP/JSON and gRPC at once. `close()` always
 * releases the sockets and flushes state (citty-style lifecycle guarantee).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createCriGrpcServer } from "@servin/cri-grpc";
import { createCriApp, type ListeningServer, listenCriApp } from "@servin/cri-http";
import { isCriError } from "@servin/cri-types";
import {
  createDiskImageBackend,
  createImageService,
  createMemoryImageBackend,
  type ImageBackend,
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
import { createAccessLog } from "./access-log.js";
import { lockRoot } from "./lock.js";
import { isDaemonLogger } from "./log.js";
import { createDaemonMetrics, type DaemonMetrics, type StoreSizes } from "./metrics.js";
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
  // Every entry bounded and linear to format: log lines quote client-sent strings (issue 14). The
  // daemon's own logger bounds every part itself, and keeps structured fields apart (JSON lines).
  const logger = isDaemonLogger(baseLogger) ? baseLogger : boundedLogger(baseLogger);
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
    // The uid the kernel named for each recent TCP peer, for the access log (decided once per connection).
    const peerUids = new Map<string, number | undefined>();
    const peerKey = (peer: { remoteAddress: string; remotePort: number }) =>
      `${peer.remoteAddress}:${peer.remotePort}`;
    const trustPeer = token
      ? undefined
      : createPeerAdmission({
          allowedUids: config.allowedUids,
          allowedGids: config.allowedGids,
          onDecision: (peer, uid, admitted) => {
            if (peerUids.size >= 4096) peerUids.delete(peerUids.keys().next().value as string);
            peerUids.set(peerKey(peer), uid);
            // A refusal at warn: for the gRPC TCP listener this is the only line (grpc-js answers it).
            if (admitted)
              logger.debug(`peer ${peer.remoteAddress}:${peer.remotePort} uid ${uid ?? "unknown"}: admitted`);
            else
              logger.warn(
                `peer ${peer.remoteAddress}:${peer.remotePort} uid ${uid ?? "unknown"}: denied (not root, not in [server] allowed_uids or allowed_gids)`,
              );
          },
        });
    const access = createAccessLog(logger, (peer) => peerUids.get(peerKey(peer)));
    cleanups.push(await lockRoot(config.root));

    // One metrics observation per CRI call whichever edge it came by: the services observe what they
    // answer (instrument()), the transports what they refuse before a service sees it.
    type Observed = {
      transport: "http" | "grpc" | "in-process";
      rpc: string;
      code: string;
      durationMs: number;
    };
    let runtime: ServinRuntimeService | undefined;
    let images: ServinImageService | undefined;
    const metrics = createDaemonMetrics({
      counts: () => runtime?.counts() ?? { sandboxes: 0, containers: 0, running: 0 },
      storeSizes: () => (images ? storeSizesOf(images) : Promise.resolve(EMPTY_STORE)),
    });
    // HTTP requests are logged by the app's access hook (it sees 401s and 404s too); gRPC calls here.
    const onCall = ({ transport, rpc, code, durationMs }: Observed) => {
      if (transport === "in-process") return;
      metrics.observe({ transport, rpc, status: code, durationMs });
      if (transport === "grpc") access.grpc({ rpc, code, durationMs });
    };

    images = await createImageService({
      onCall,
      backend: observePulls(
        config.imageBackend === "memory"
          ? createMemoryImageBackend()
          : await createDiskImageBackend({
              root: config.root,
              registries: toRegistryConfig(config),
              limits: config.imageLimits,
              logger,
            }),
        metrics,
      ),
      isImageInUse: (id) => runtime?.isImageInUse(id) ?? false,
      logger,
    });
    const imageService = images;
    cleanups.push(() => imageService.close());

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
      images: imageService,
      recoverAfter: serversListen,
      // `servin run` puts its pods' logs here (GET /v1/servin/info): they go with their pod.
      ownedLogRoot: join(config.root, "pod-logs"),
      // PodSandboxStatus's evented-PLEG fields (containers_statuses, timestamp): off unless configured, as CRI-O.
      enablePodEvents: config.enablePodEvents,
      // One metadata store per backend: records of real containers must never be reconciled by the simulator.
      store: await createFileStore(join(config.root, "runtime", backend.name)),
      runtimeName: "servin",
      runtimeVersion: VERSION,
      logger,
    });
    const service = runtime;
    cleanups.push(() => service.close());
    // Closed before the service (cleanups run in reverse): the exit watch ends first.
    cleanups.push(watchExits(service, metrics, logger));
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
    const app = createCriApp({
      runtime: service,
      images: imageService,
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
              importImage: (archive: AsyncIterable<Uint8Array>) => imageService.importImageStream(archive),
              exportImage: (ref: string) => imageService.exportImageStream(ref),
            },
          }
        : {}),
      onRefused: onCall,
      onAccess: access.http,
    });
    const http = await listenCriApp(app, { host: config.host, port: config.port });
    cleanups.push(() => http.close());

    let grpc: ServinDaemon["grpc"];
    if (config.grpcSocket || config.grpcTcp) {
      const server = createCriGrpcServer({
        onRefused: onCall,
        runtime: service,
        images: imageService,
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
      images: imageService,
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

const EMPTY_STORE: StoreSizes = { images: 0, snapshots: 0, imageBytes: 0, imageInodes: 0 };

/** The image store's sizes from its in-memory records and ImageFsInfo (which the disk backend caches until the store changes). */
async function storeSizesOf(images: ServinImageService): Promise<StoreSizes> {
  const [{ images: list }, fs] = await Promise.all([images.listImages({}), images.imageFsInfo({})]);
  const snapshots = new Set<string>();
  for (const image of list) {
    const resolved = await images.resolveImage(image.id).catch(() => undefined);
    for (const layer of resolved?.layers ?? []) snapshots.add(layer);
  }
  const usage = fs.imageFilesystems[0];
  return {
    images: list.length,
    snapshots: snapshots.size,
    imageBytes: Number(usage?.usedBytes?.value ?? 0),
    imageInodes: Number(usage?.inodesUsed?.value ?? 0),
  };
}

/**
 * The image backend with its pulls observed: one observation per pull the backend runs (identical
 * concurrent pulls share one), with the bytes of every blob it fetched (status "done"; blobs already
 * stored report "exists" and cost nothing).
 */
function observePulls(backend: ImageBackend, metrics: Pick<DaemonMetrics, "observePull">): ImageBackend {
  const pull: ImageBackend["pull"] = async (ref, ctx) => {
    const started = performance.now();
    let bytes = 0;
    const onProgress = ctx.onProgress;
    let result = "OK";
    try {
      return await backend.pull(ref, {
        ...ctx,
        onProgress: (e) => {
          if (e.status === "done") bytes += e.total;
          onProgress?.(e);
        },
      });
    } catch (err) {
      result = isCriError(err) ? err.code : "Internal";
      throw err;
    } finally {
      metrics.observePull({ result, bytes, durationMs: performance.now() - started });
    }
  };
  return new Proxy(backend, {
    get: (target, key, receiver) => (key === "pull" ? pull : Reflect.get(target, key, receiver)),
  });
}

/**
 * Counts container exits (and OOM kills) from the runtime's own event stream, as a GetContainerEvents
 * subscriber in process: no hook inside the backend. Resubscribes if the hub ever drops it. Returns
 * the cleanup step that ends the watch.
 */
function watchExits(
  runtime: ServinRuntimeService,
  metrics: Pick<DaemonMetrics, "observeExit">,
  logger: Logger,
): () => Promise<void> {
  const stop = new AbortController();
  const loop = (async () => {
    while (!stop.signal.aborted) {
      try {
        for await (const event of runtime.getContainerEvents({}, { signal: stop.signal })) {
          if (event.containerEventType !== "CONTAINER_STOPPED_EVENT") continue;
          // A pod's own STOPPED event names the sandbox: no container status matches it.
          const status = event.containersStatuses?.find((c) => c.id === event.containerId);
          if (status) metrics.observeExit({ exitCode: status.exitCode ?? 0, reason: status.reason ?? "" });
        }
      } catch (err) {
        // Unavailable: the service is closing.
        if (stop.signal.aborted || (isCriError(err) && err.code === "Unavailable")) break;
        logger.warn("container exit metrics: the event stream ended, subscribing again", err);
      }
      // The stream also ends cleanly when the service closes.
      if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    stop.abort();
    await loop;
  };
}
