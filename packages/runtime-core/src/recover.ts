/**
 * Startup recovery: reload the store and reconcile it with what the backend
 * reports, so that nothing is lost and nothing is leaked across a restart or crash.
 *
 * Recovery never blocks the API (issue 14): the store is indexed at once and
 * the service answers; reconciling with the backend and cleaning up
 * half-created objects run in the background. A call that names an object
 * not yet reconciled has it reconciled first (ahead of the queue), and
 * answers Unavailable naming it if that takes longer than GATE_WAIT_MS; Lists
 * wait for every visible object likewise. Half-created objects are invisible,
 * so only calls on their pod wait for their cleanup.
 */
import { CriError, nowNanos } from "@servin/cri-types";
import {
  type ContainerEntry,
  containerNameKey,
  newContainerEntry,
  newSandboxEntry,
  type RuntimeContext,
  type SandboxEntry,
  sandboxNameKey,
  saveContainer,
  saveSandbox,
} from "./_context.js";
import type { ContainerExit, ContainerRecord } from "./backend.js";
import { exitStatus } from "./container/stop.js";
import { containerState, isContainerPending } from "./store/container-status.js";
import { isSandboxPending } from "./store/sandbox-status.js";
import type { StoredContainer, StoredSandbox, StoreSnapshot } from "./store/types.js";

/** How many backend inspections or cleanups run at once during recovery (the machine may have 2 cores). */
const INSPECT_CONCURRENCY = 8;
/**
 * How long a call waits for the objects it names to be reconciled before
 * answering Unavailable. Reconciling one object is a `runc state` and an exit
 * file read (milliseconds); kubelet retries Unavailable on its next sync.
 */
const GATE_WAIT_MS = 1_000;

export interface RecoveryReport {
  sandboxes: number;
  containers: number;
  /** Pending (half-created) objects cleaned up through the backend and dropped. */
  cleanedUp: number;
  /** Containers found exited, vanished or changed, pods found not ready. */
  changed: number;
}

/** One piece of recovery work on one object, started by the queue or, earlier, by a call that needs it. */
interface RecoveryTask {
  readonly kind: "container" | "pod sandbox";
  readonly id: string;
  /** The pod the object belongs to (itself for a pod). */
  readonly sandboxId: string;
  /** A reconcile of a visible object (Lists wait for these), or the cleanup of an invisible one. */
  readonly visible: boolean;
  /** Starts the work (queued for a slot); `urgent` moves it ahead of the background queue. */
  run(urgent: boolean): Promise<void>;
}

/**
 * At most `n` pieces of recovery work at once (each spawns the runtime; the
 * machine may have 2 cores), the ones a caller waits for first.
 */
class Slots {
  #free: number;
  readonly #urgent: Array<() => void> = [];
  readonly #queued: Array<() => void> = [];
  constructor(n: number) {
    this.#free = n;
  }
  acquire(): { ready: Promise<void>; promote(): void } {
    if (this.#free > 0) {
      this.#free--;
      return { ready: Promise.resolve(), promote() {} };
    }
    let wake!: () => void;
    const ready = new Promise<void>((resolve) => {
      wake = resolve;
    });
    this.#queued.push(wake);
    const promote = () => {
      const i = this.#queued.indexOf(wake);
      if (i < 0) return;
      this.#queued.splice(i, 1);
      this.#urgent.push(wake);
    };
    return { ready, promote };
  }
  release(): void {
    const next = this.#urgent.shift() ?? this.#queued.shift();
    if (next) next();
    else this.#free++;
  }
}

/** Recovery in progress: what it has done so far, and the gate calls pass through meanwhile. */
export interface Recovery {
  /** Filled in as recovery proceeds; final once `done` resolves. */
  readonly report: RecoveryReport;
  /** Resolves when every object is reconciled and every half-created one cleaned up (or left for the next start). */
  readonly done: Promise<RecoveryReport>;
  /** True once `done` has resolved: calls pass the gate without looking. */
  readonly finished: boolean;
  /**
   * Waits until the objects `req` names (containerId, podSandboxId; every
   * visible object for List RPCs) are reconciled, reconciling them first if
   * they are still queued. Throws Unavailable naming the object after GATE_WAIT_MS.
   */
  gate(rpc: string, req: unknown): Promise<void>;
  /** Records being cleaned up right now (image GC must keep their images until then). */
  cleaning(): Iterable<ContainerRecord>;
}

/** RPCs that never touch a recovered object: they pass the gate at once. */
const UNGATED = new Set([
  "Version",
  "Status",
  "RuntimeConfig",
  "UpdateRuntimeConfig",
  "RunPodSandbox",
  "ListMetricDescriptors",
]);

/**
 * Indexes the snapshot synchronously (so the service can answer at once) and
 * starts reconciling and cleaning up in the background. Subscribe to backend
 * exits before calling it: both take the container's lock, so an exit during
 * recovery is neither missed nor recorded twice.
 */
export function startRecovery(
  ctx: RuntimeContext,
  snapshot: StoreSnapshot,
  startAfter: Promise<unknown> = Promise.resolve(),
): Recovery {
  const report: RecoveryReport = { sandboxes: 0, containers: 0, cleanedUp: 0, changed: 0 };
  const { doomed, pendingSandboxes } = index(ctx, snapshot, report);
  const tasks = new Map<string, RecoveryTask>();
  const cleaning = new Map<string, ContainerRecord>();
  const slots = new Slots(INSPECT_CONCURRENCY);
  const add = (
    kind: RecoveryTask["kind"],
    id: string,
    sandboxId: string,
    visible: boolean,
    work: () => Promise<void>,
  ) => {
    let started: Promise<void> | undefined;
    let slot: ReturnType<Slots["acquire"]> | undefined;
    const task: RecoveryTask = {
      kind,
      id,
      sandboxId,
      visible,
      run: (urgent) => {
        if (!started) {
          const s = slots.acquire();
          slot = s;
          // After close() began, leave the rest to the next start (their records stay).
          started = s.ready
            .then(() => (ctx.lifetime.aborted ? undefined : work()))
            .catch((err: unknown) =>
              ctx.logger.error(
                `recovery: ${kind} "${id}" could not be recovered; it keeps its stored state`,
                err,
              ),
            )
            .finally(() => {
              slots.release();
              tasks.delete(id);
            });
        }
        if (urgent) slot?.promote();
        return started;
      },
    };
    tasks.set(id, task);
  };

  for (const entry of ctx.sandboxes.values()) {
    if (entry.status.state !== "SANDBOX_READY") continue; // NOTREADY is final until removed
    add("pod sandbox", entry.record.id, entry.record.id, true, async () => {
      if (await entry.lock.run(() => reconcileSandbox(ctx, entry))) report.changed++;
    });
  }
  for (const entry of ctx.containers.values()) {
    if (containerState(entry.status) === "CONTAINER_EXITED") continue; // an exit is final
    add("container", entry.record.id, entry.record.sandboxId, true, async () => {
      if (await entry.lock.run(() => reconcileContainer(ctx, entry))) report.changed++;
    });
  }
  // Backend removal is idempotent, so cleaning something the backend never made is harmless.
  const allSandboxes = new Map<string, StoredSandbox>(snapshot.sandboxes.map((s) => [s.metadata.id, s]));
  for (const c of doomed) {
    cleaning.set(c.metadata.id, c.metadata);
    add("container", c.metadata.id, c.metadata.sandboxId, false, async () => {
      try {
        if (await cleanUpContainer(ctx, c, allSandboxes.get(c.metadata.sandboxId)?.metadata))
          report.cleanedUp++;
      } finally {
        cleaning.delete(c.metadata.id);
      }
    });
  }
  for (const s of pendingSandboxes) {
    add("pod sandbox", s.metadata.id, s.metadata.id, false, async () => {
      if (await cleanUpSandbox(ctx, s)) report.cleanedUp++;
    });
  }

  const queue = [...tasks.values()];
  // Visible objects first (callers wait for them), then cleanups, pods after their containers.
  const reconciles = queue.filter((t) => t.visible);
  const containerCleanups = queue.filter((t) => !t.visible && t.kind === "container");
  const sandboxCleanups = queue.filter((t) => !t.visible && t.kind === "pod sandbox");
  const recovery = {
    report,
    finished: tasks.size === 0,
    done: undefined as unknown as Promise<RecoveryReport>,
    gate: (rpc: string, req: unknown) => gate(tasks, rpc, req),
    cleaning: () => cleaning.values(),
  };
  const runAll = async (list: RecoveryTask[]) => {
    if (ctx.lifetime.aborted) return;
    await Promise.all(list.map((t) => t.run(false)));
  };
  recovery.done = (async () => {
    // The queue waits (e.g. until the servers listen: spawning runtimes would slow their start down);
    // calls that need an object reconcile it at once meanwhile. close() does not wait for the start.
    await Promise.race([
      startAfter.catch(() => undefined),
      new Promise<void>((resolve) => {
        if (ctx.lifetime.aborted) resolve();
        else ctx.lifetime.addEventListener("abort", () => resolve(), { once: true });
      }),
    ]);
    await runAll(reconciles);
    await runAll(containerCleanups);
    await runAll(sandboxCleanups);
    recovery.finished = true;
    // The backend may finish removals (a crash's, and the cleanups above) in the background:
    // recovery is done once they are, so nothing left over is still being removed after it.
    if (!ctx.lifetime.aborted) await ctx.backend.settled?.();
    return report;
  })();
  return recovery;
}

/** Indexes what finished being created; returns what did not (to clean up). */
function index(
  ctx: RuntimeContext,
  snapshot: StoreSnapshot,
  report: RecoveryReport,
): { doomed: StoredContainer[]; pendingSandboxes: StoredSandbox[] } {
  // Index in creation order, so List answers in the same order before and after a restart.
  const byCreation = (a: { metadata: { createdAt: bigint; id: string } }, b: typeof a) =>
    a.metadata.createdAt < b.metadata.createdAt
      ? -1
      : a.metadata.createdAt > b.metadata.createdAt
        ? 1
        : a.metadata.id < b.metadata.id
          ? -1
          : 1;
  snapshot.sandboxes.sort(byCreation);
  snapshot.containers.sort(byCreation);
  const pendingSandboxes: StoredSandbox[] = [];
  const liveSandboxIds = new Set<string>();
  for (const s of snapshot.sandboxes) {
    if (isSandboxPending(s.status)) {
      pendingSandboxes.push(s);
      continue;
    }
    const entry = newSandboxEntry(s.metadata, s.status);
    ctx.sandboxes.set(s.metadata.id, entry);
    ctx.sandboxNames.set(sandboxNameKey(s.metadata.config.metadata), s.metadata.id, {
      config: s.metadata.config,
      runtimeHandler: s.metadata.runtimeHandler,
    });
    liveSandboxIds.add(s.metadata.id);
    report.sandboxes++;
  }

  const doomed: StoredContainer[] = [];
  for (const c of snapshot.containers) {
    // A container whose pod never finished (or whose pod record is gone) cannot be used by anyone: clean it up.
    if (isContainerPending(c.status) || !liveSandboxIds.has(c.metadata.sandboxId)) {
      doomed.push(c);
      continue;
    }
    ctx.containers.set(c.metadata.id, newContainerEntry(c.metadata, c.status));
    ctx.containerNames.set(
      containerNameKey(c.metadata.sandboxId, c.metadata.config.metadata),
      c.metadata.id,
      c.metadata.config,
    );
    report.containers++;
  }
  return { doomed, pendingSandboxes };
}

/** A failed cleanup keeps its record, so the next start tries again. */
async function cleanUpContainer(
  ctx: RuntimeContext,
  c: StoredContainer,
  sandbox: StoredSandbox["metadata"] | undefined,
): Promise<boolean> {
  const why = isContainerPending(c.status) ? "half-created" : "orphaned (its pod sandbox is gone)";
  ctx.logger.warn(`recovery: cleaning up ${why} container "${c.metadata.id}"`);
  try {
    await ctx.backend.removeContainer(c.metadata, sandbox);
    await ctx.store.deleteContainer(c.metadata.id);
    return true;
  } catch (err) {
    ctx.logger.error(
      `recovery: cleaning up container "${c.metadata.id}" failed; retrying at next start`,
      err,
    );
    return false;
  }
}

async function cleanUpSandbox(ctx: RuntimeContext, s: StoredSandbox): Promise<boolean> {
  ctx.logger.warn(`recovery: cleaning up half-created pod sandbox "${s.metadata.id}"`);
  try {
    await ctx.backend.stopSandbox(s.metadata);
    await ctx.backend.removeSandbox(s.metadata);
    await ctx.store.deleteSandbox(s.metadata.id);
    return true;
  } catch (err) {
    ctx.logger.error(
      `recovery: cleaning up pod sandbox "${s.metadata.id}" failed; retrying at next start`,
      err,
    );
    return false;
  }
}

/** The tasks a call depends on: the object it names and, for a pod, everything in it. */
function tasksFor(tasks: Map<string, RecoveryTask>, rpc: string, req: unknown): RecoveryTask[] {
  if (UNGATED.has(rpc)) return [];
  if (rpc.startsWith("List")) {
    // ListPodSandbox* show pods only, ListContainer* containers only.
    const kind = rpc.includes("PodSandbox") ? "pod sandbox" : "container";
    return [...tasks.values()].filter((t) => t.visible && t.kind === kind);
  }
  const r = (req ?? {}) as { containerId?: unknown; podSandboxId?: unknown };
  const out: RecoveryTask[] = [];
  // IDs may be unique prefixes; waiting for every match is harmless.
  const matches = (id: string, q: unknown) => typeof q === "string" && q !== "" && id.startsWith(q);
  for (const t of tasks.values()) {
    if (t.kind === "container" && t.visible && matches(t.id, r.containerId)) out.push(t);
    else if (matches(t.sandboxId, r.podSandboxId) && (t.visible || t.kind === "container")) out.push(t);
  }
  return out;
}

async function gate(tasks: Map<string, RecoveryTask>, rpc: string, req: unknown): Promise<void> {
  const needed = tasksFor(tasks, rpc, req);
  if (needed.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), GATE_WAIT_MS);
  });
  try {
    // Started here if still queued: a caller is waiting for exactly these.
    const all = Promise.all(needed.map((t) => t.run(true)));
    if ((await Promise.race([all, timedOut])) !== "timeout") return;
  } finally {
    clearTimeout(timer);
  }
  const left = needed.filter((t) => tasks.has(t.id));
  if (left.length === 0) return;
  const first = left[0]!;
  const what = `${first.kind} "${first.id}" is ${first.visible ? "being recovered" : "being cleaned up after a crash"}`;
  throw new CriError(
    "Unavailable",
    `${rpc}: ${what}${left.length > 1 ? ` (and ${left.length - 1} more objects)` : ""}, retry`,
  );
}

async function reconcileSandbox(ctx: RuntimeContext, entry: SandboxEntry): Promise<boolean> {
  if (entry.status.state !== "SANDBOX_READY") return false;
  let ready = false;
  let network = entry.status.network;
  try {
    const observed = await ctx.backend.inspectSandbox(entry.record);
    ready = observed.ready;
    if (observed.network) network = observed.network;
  } catch (err) {
    // The CRI has no UNKNOWN pod state; a pod we cannot vouch for is not ready (kubelet recreates it).
    ctx.logger.warn(`recovery: cannot inspect pod sandbox "${entry.record.id}"; marking it NOTREADY`, err);
  }
  if (ready) {
    if (network === entry.status.network) return false;
    await saveSandbox(ctx, entry, { ...entry.status, ...(network ? { network } : {}) });
    return false;
  }
  ctx.logger.info(`recovery: pod sandbox "${entry.record.id}" infra is gone; now NOTREADY`);
  const { network: _released, ...rest } = entry.status;
  await saveSandbox(ctx, entry, {
    ...rest,
    state: "SANDBOX_NOTREADY",
    stoppedAt: nowOr(entry.status.stoppedAt),
  });
  return true;
}

async function reconcileContainer(ctx: RuntimeContext, entry: ContainerEntry): Promise<boolean> {
  const state = containerState(entry.status);
  // An exit is final; nothing the backend says now can change it.
  if (state === "CONTAINER_EXITED") return false;
  const id = entry.record.id;
  let observed: Awaited<ReturnType<typeof ctx.backend.inspectContainer>>;
  try {
    observed = await ctx.backend.inspectContainer(entry.record);
  } catch (err) {
    observed = {
      state: "unknown",
      message: `inspect failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  switch (observed.state) {
    case "running": {
      if (state === "CONTAINER_RUNNING") return false;
      // We crashed between the backend starting it and our status write: it is running.
      await saveContainer(ctx, entry, {
        ...entry.status,
        unknown: false,
        startedAt: observed.startedAt ?? nowOr(entry.status.startedAt),
      });
      return true;
    }
    case "exited": {
      const exit: ContainerExit = observed.exit;
      const startedAt = entry.status.startedAt !== 0n ? entry.status.startedAt : (observed.startedAt ?? 0n);
      await saveContainer(ctx, entry, { ...exitStatus(entry, exit), startedAt });
      ctx.logger.info(
        `recovery: container "${id}" exited while servin was down (exit code ${exit.exitCode})`,
      );
      return true;
    }
    case "created": {
      if (entry.status.startedAt === 0n) {
        if (!entry.status.unknown) return false;
        await saveContainer(ctx, entry, { ...entry.status, unknown: false, reason: "", message: "" });
        return true;
      }
      if (state === "CONTAINER_UNKNOWN") return false;
      // Status says it started but the backend never ran it: we cannot tell what happened.
      await saveContainer(ctx, entry, {
        ...entry.status,
        unknown: true,
        reason: "Unknown",
        message: "recorded as started, but the backend reports it never ran",
      });
      return true;
    }
    case "unknown": {
      if (state === "CONTAINER_UNKNOWN") return false;
      // containerd semantics: a container the runtime lost is CONTAINER_UNKNOWN until stopped or removed.
      ctx.logger.warn(`recovery: container "${id}" vanished from the backend: ${observed.message}`);
      await saveContainer(ctx, entry, {
        ...entry.status,
        unknown: true,
        reason: "Unknown",
        message: observed.message,
      });
      return true;
    }
  }
}

function nowOr(t: bigint): bigint {
  return t !== 0n ? t : nowNanos();
}
