/** createRuntimeService: wires the RPC handlers over one context, with one wrapper for cross-cutting concerns. */
import type {
  CallObserver,
  CallOptions,
  ContainerEventResponse,
  ContainerId,
  GetEventsRequest,
  ImageId,
  ImageResolver,
  RuntimeService,
} from "@servin/cri-types";
import { CriError, InFlight, instrument } from "@servin/cri-types";
import { type Logger, silentLogger } from "@servin/node-kit";
import { ContainerIndex, type RuntimeContext, saveContainer } from "./_context.js";
import { NameRegistry } from "./_names.js";
import type { ContainerExit, RuntimeBackend } from "./backend.js";
import { attach } from "./container/attach.js";
import { createContainer } from "./container/create.js";
import { exec } from "./container/exec.js";
import { execSync } from "./container/exec-sync.js";
import { listContainers } from "./container/list.js";
import { removeContainer } from "./container/remove.js";
import { reopenContainerLog } from "./container/reopen-log.js";
import { startContainer } from "./container/start.js";
import { containerStats, listContainerStats } from "./container/stats.js";
import { containerStatus } from "./container/status.js";
import { exitStatus, stopContainer } from "./container/stop.js";
import { updateContainerResources } from "./container/update.js";
import { emitEvent } from "./events/emit.js";
import { DEFAULT_EVENT_BUFFER, EventHub } from "./events/hub.js";
import { type RecoveryReport, startRecovery } from "./recover.js";
import { runtimeConfig, updateRuntimeConfig } from "./runtime/config.js";
import { status } from "./runtime/status.js";
import {
  checkpointContainer,
  listMetricDescriptors,
  listPodSandboxMetrics,
} from "./runtime/unimplemented.js";
import { version } from "./runtime/version.js";
import { listPodSandbox } from "./sandbox/list.js";
import { portForward } from "./sandbox/port-forward.js";
import { removePodSandbox } from "./sandbox/remove.js";
import { runPodSandbox } from "./sandbox/run.js";
import { listPodSandboxStats, podSandboxStats } from "./sandbox/stats.js";
import { podSandboxStatus } from "./sandbox/status.js";
import { stopPodSandbox } from "./sandbox/stop.js";
import { containerState, isContainerPending } from "./store/container-status.js";
import { isSandboxPending } from "./store/sandbox-status.js";
import type { MetadataStore } from "./store/types.js";
import {
  type ServiceStreamingRuntime,
  type StreamingProvider,
  streamingRuntime,
} from "./streaming/provider.js";

export interface RuntimeServiceOptions {
  backend: RuntimeBackend;
  images: ImageResolver;
  store: MetadataStore;
  /** Reported by Version; default "servin". */
  runtimeName?: string;
  /** Reported by Version; default this package's version. */
  runtimeVersion?: string;
  /** Default: silent. */
  logger?: Logger;
  /** Events a GetContainerEvents subscriber may fall behind by before it is dropped (default 1024). */
  eventBufferSize?: number;
  /**
   * Background recovery starts once this settles (default at once): a daemon
   * passes "the servers listen", so reconciling never slows its start down.
   * Calls that name an object reconcile it at once regardless.
   */
  recoverAfter?: Promise<unknown>;
  /** Called once per RPC (metrics); the call's `transport` option says which edge it came by. */
  onCall?: CallObserver;
  /**
   * The streaming server that issues Exec/Attach/PortForward URLs. Used only when the backend
   * has `streaming`; otherwise those RPCs answer Unimplemented.
   */
  streaming?: StreamingProvider;
  /**
   * A directory whose pod log directories belong to the runtime itself (`servin run` puts its pods'
   * logs there): RemovePodSandbox deletes a pod's `log_directory` when it lies below it. Log
   * directories anywhere else are the client's (kubelet removes its own), as in containerd.
   */
  ownedLogRoot?: string;
  /**
   * Fill PodSandboxStatus's `containers_statuses` and `timestamp`, the fields of kubelet's evented PLEG
   * (default false, as CRI-O's `enable_pod_events`; containerd 1.6 sends neither). Without them kubelet
   * sees `timestamp == 0` and lists the pod's containers itself; the answer stays small.
   * GetContainerEvents carries the pod's container statuses either way.
   */
  enablePodEvents?: boolean;
}

/** A RuntimeService with lifecycle and the queries other Servin parts need. */
export interface ServinRuntimeService extends RuntimeService {
  /**
   * Stops accepting calls, waits for in-flight creates and exit handling,
   * ends event streams, then closes the store and the backend. Containers
   * keep running (they outlive the server); nothing on disk is removed.
   */
  close(): Promise<void>;
  /** True while any container (in any state) was created from this image: image GC must keep it. */
  isImageInUse(id: ImageId): boolean;
  /** Live counts for status pages and metrics (pending creates excluded). */
  counts(): { sandboxes: number; containers: number; running: number };
  /** What startup recovery found and did so far (it runs in the background; final once `recovered` resolves). */
  readonly recovery: RecoveryReport;
  /** Resolves once startup recovery has reconciled every object and cleaned up every half-created one. */
  readonly recovered: Promise<RecoveryReport>;
  /** What the streaming server runs sessions with (IDs resolved, states checked); undefined when the backend has none. */
  readonly streamingRuntime: ServiceStreamingRuntime | undefined;
}

/** This package's version: the default runtimeVersion. */
export const RUNTIME_CORE_VERSION = "0.1.0";

type Handler<Req, Res> = (ctx: RuntimeContext, req: Req, opts?: CallOptions) => Promise<Res>;
/** Handlers bound to their context: the service methods. */
type Bound<H> = {
  [K in keyof H]: H[K] extends Handler<infer Req, infer Res>
    ? (req: Req, opts?: CallOptions) => Promise<Res>
    : never;
};

/**
 * Creates the CRI runtime service. Resolves as soon as the store is reloaded
 * and indexed; reconciling with the backend runs in the background (see
 * recover.ts): half-created objects are cleaned up, exits that happened while
 * we were down are recorded, lost containers are UNKNOWN. Calls on an object
 * wait for its reconcile (or answer Unavailable naming it), never see a stale state.
 *
 * @example
 * import { createMemoryBackend, createMemoryStore, createRuntimeService } from "@servin/runtime-core";
 * const runtime = await createRuntimeService({
 *   backend: createMemoryBackend(),
 *   images: { resolveImage: async (ref) => ({ id: `sha256:${"a".repeat(64)}` as ImageId, ref, repoTags: [ref], repoDigests: [], config: {}, layers: [] }) },
 *   store: createMemoryStore(),
 * });
 * const { podSandboxId } = await runtime.runPodSandbox({ config: { metadata: { name: "web", namespace: "default" } } });
 * await runtime.close();
 */
export async function createRuntimeService(options: RuntimeServiceOptions): Promise<ServinRuntimeService> {
  const logger = options.logger ?? silentLogger;
  const lifetime = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  const ctx: RuntimeContext = {
    backend: options.backend,
    images: options.images,
    store: options.store,
    logger,
    events: new EventHub(logger, options.eventBufferSize ?? DEFAULT_EVENT_BUFFER),
    sandboxes: new Map(),
    containers: new ContainerIndex(),
    sandboxNames: new NameRegistry(),
    containerNames: new NameRegistry(),
    lifetime: lifetime.signal,
    runtimeName: options.runtimeName ?? "servin",
    runtimeVersion: options.runtimeVersion ?? RUNTIME_CORE_VERSION,
    runtimeConfig: {},
    ...(options.streaming && options.backend.streaming ? { streaming: options.streaming } : {}),
    ...(options.ownedLogRoot ? { ownedLogRoot: options.ownedLogRoot } : {}),
    enablePodEvents: options.enablePodEvents ?? false,
    track(work) {
      const tracked: Promise<void> = work.then(
        () => {
          inFlight.delete(tracked);
        },
        (err: unknown) => {
          inFlight.delete(tracked);
          logger.error("background runtime work failed", err);
        },
      );
      inFlight.add(tracked);
    },
  };

  const snapshot = await ctx.store.load();
  // Subscribe before reconciling so an exit during recovery is not missed; both take the container's lock.
  const unsubscribe = ctx.backend.onContainerExit((id, exit) => onExit(ctx, id, exit));
  // Recovery never blocks the API (issue 14): it runs in the background, calls pass its gate.
  const recovery = startRecovery(ctx, snapshot, options.recoverAfter);
  const report = recovery.report;
  ctx.track(
    recovery.done.then((r) =>
      logger.info(
        `runtime recovered: ${r.sandboxes} pod sandboxes, ${r.containers} containers, ` +
          `${r.cleanedUp} half-created objects cleaned up, ${r.changed} updated`,
      ),
    ),
  );

  let closed = false;
  // Calls in progress: close() lets them finish before closing the store under them.
  const active = new InFlight();
  /** Binds each handler to the context, behind the recovery gate (instrument() counts the calls in `active`). */
  const bindAll = <H extends Record<string, Handler<never, unknown>>>(handlers: H): Bound<H> => {
    const bound: Record<string, (req: unknown, opts?: CallOptions) => Promise<unknown>> = {};
    for (const [rpc, handler] of Object.entries(handlers) as [string, Handler<unknown, unknown>][]) {
      // The recovery gate speaks the CRI's method names (ListContainers).
      const method = rpc.charAt(0).toUpperCase() + rpc.slice(1);
      bound[rpc] = (req, opts) =>
        recovery.finished
          ? handler(ctx, req ?? {}, opts)
          : recovery.gate(method, req).then(() => handler(ctx, req ?? {}, opts));
    }
    return bound as Bound<H>;
  };

  // Closed check, error mapping, one debug line and one metrics observation per call, each call counted
  // in `active` until it settles: instrument() (cri-types).
  const rpcs: RuntimeService = instrument(
    "runtime",
    {
      ...bindAll({
        version,
        status,
        runtimeConfig,
        updateRuntimeConfig,
        runPodSandbox,
        stopPodSandbox,
        removePodSandbox,
        podSandboxStatus,
        listPodSandbox,
        podSandboxStats,
        listPodSandboxStats,
        listPodSandboxMetrics,
        listMetricDescriptors,
        portForward,
        createContainer,
        startContainer,
        stopContainer,
        removeContainer,
        listContainers,
        containerStatus,
        updateContainerResources,
        reopenContainerLog,
        execSync,
        exec,
        attach,
        containerStats,
        listContainerStats,
        checkpointContainer,
      }),
      getContainerEvents: (
        _req: GetEventsRequest,
        opts?: CallOptions,
      ): AsyncIterable<ContainerEventResponse> => ctx.events.subscribe(opts?.signal),
    },
    {
      isClosed: () => closed,
      logger,
      ...(options.onCall ? { observe: options.onCall } : {}),
      streams: ["getContainerEvents"],
      inFlight: active,
      // An exec may run for minutes (probe timeout + 2 min); close() does not wait for it (its process lives in the backend).
      untracked: ["execSync"],
    },
  );

  return {
    ...rpcs,
    recovery: report,
    recovered: recovery.done,
    streamingRuntime: streamingRuntime(ctx),
    isImageInUse(id: ImageId): boolean {
      for (const c of ctx.containers.values()) if (c.record.image.id === id) return true;
      for (const c of recovery.cleaning()) if (c.image.id === id) return true;
      return false;
    },
    counts() {
      let sandboxes = 0;
      let containers = 0;
      let running = 0;
      for (const s of ctx.sandboxes.values()) if (!isSandboxPending(s.status)) sandboxes++;
      for (const c of ctx.containers.values()) {
        if (isContainerPending(c.status)) continue;
        containers++;
        if (containerState(c.status) === "CONTAINER_RUNNING") running++;
      }
      return { sandboxes, containers, running };
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      // Creates in flight see the lifetime signal and undo themselves; wait for that and for exit handling.
      lifetime.abort(new CriError("Unavailable", "the runtime service is closing"));
      while (inFlight.size > 0 || active.size > 0) await Promise.allSettled([...inFlight, active.drain()]);
      ctx.events.close();
      await ctx.store.close();
      await ctx.backend.close();
    },
  };
}

/** Records an exit the backend noticed by itself and announces it; never polls. */
function onExit(ctx: RuntimeContext, id: ContainerId, exit: ContainerExit): void {
  const entry = ctx.containers.get(id);
  if (entry === undefined) return;
  ctx.track(
    entry.lock.run(async () => {
      if (entry.removed || entry.status.finishedAt !== 0n) return; // already recorded (StopContainer)
      await saveContainer(ctx, entry, exitStatus(entry, exit));
      ctx.logger.info(`container "${id}" exited (exit code ${exit.exitCode})`);
      emitEvent(ctx, id, "CONTAINER_STOPPED_EVENT", entry.record.sandboxId);
    }),
  );
}
