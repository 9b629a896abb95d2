/** The state every RPC handler shares: the in-memory index, stores, backend, names and events. */
import type {
  ContainerId,
  ContainerMetadata,
  ContainerState,
  ImageResolver,
  PodSandboxMetadata,
  RuntimeConfig,
  SandboxId,
  StringMap,
} from "@servin/cri-types";
import { CriError, isCriError, withCombinedSignal } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import { matchId, resolveId } from "./_ids.js";
import { Mutex } from "./_lock.js";
import type { NameRegistry } from "./_names.js";
import type { ContainerRecord, RuntimeBackend, SandboxRecord } from "./backend.js";
import type { EventHub } from "./events/hub.js";
import { type ContainerStatusData, containerState, isContainerPending } from "./store/container-status.js";
import { isSandboxPending, type SandboxStatusData } from "./store/sandbox-status.js";
import type { MetadataStore } from "./store/types.js";
import type { StreamingProvider } from "./streaming/provider.js";

/**
 * A pod sandbox in the index. `record` and `status` are replaced, never
 * mutated, so a List that read them sees a consistent snapshot without a lock.
 */
export interface SandboxEntry {
  record: SandboxRecord;
  status: SandboxStatusData;
  readonly lock: Mutex;
  readonly nameKey: string;
  /** Set once RemovePodSandbox has finished: operations that waited on the lock then answer NotFound. */
  removed: boolean;
  /** Set while StopPodSandbox runs: new containers may not be created or started. */
  stopping: boolean;
  /** CreateContainer calls in flight in this pod; RemovePodSandbox waits for them. */
  readonly creating: Set<Promise<unknown>>;
}

export interface ContainerEntry {
  record: ContainerRecord;
  status: ContainerStatusData;
  readonly lock: Mutex;
  readonly nameKey: string;
  removed: boolean;
}

export interface RuntimeContext {
  readonly backend: RuntimeBackend;
  readonly images: ImageResolver;
  readonly store: MetadataStore;
  readonly logger: Logger;
  readonly events: EventHub;
  readonly sandboxes: Map<SandboxId, SandboxEntry>;
  /** Every container, with its pod's kept alongside (ContainerIndex.ofSandbox: no walk over all of them). */
  readonly containers: ContainerIndex;
  readonly sandboxNames: NameRegistry<SandboxId>;
  readonly containerNames: NameRegistry<ContainerId>;
  /** Aborted by close(): passed to backend creates instead of the caller's signal (see _names.ts). */
  readonly lifetime: AbortSignal;
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  runtimeConfig: RuntimeConfig;
  /** Issues Exec/Attach/PortForward URLs; absent: those RPCs answer Unimplemented. */
  readonly streaming?: StreamingProvider;
  /** Pod log directories below this one are the runtime's: removed with their pod (see RuntimeServiceOptions). */
  readonly ownedLogRoot?: string;
  /** PodSandboxStatus answers `containers_statuses` and `timestamp` (see RuntimeServiceOptions.enablePodEvents). */
  readonly enablePodEvents: boolean;
  /** Registers background work (abandoned creates, exit handling) that close() waits for. */
  track(work: Promise<unknown>): void;
}

/**
 * The containers by ID, and each pod's containers by pod ID, kept by the Map's own set/delete/clear:
 * every place that adds or removes a container keeps both without knowing of the second.
 * A container's pod never changes (its record is swapped, its sandboxId stays).
 *
 * @example
 * const index = new ContainerIndex();
 * index.set(entry.record.id, entry);
 * index.ofSandbox(entry.record.sandboxId); // Set { entry }
 */
export class ContainerIndex extends Map<ContainerId, ContainerEntry> {
  private readonly bySandbox = new Map<SandboxId, Set<ContainerEntry>>();
  private static readonly none: ReadonlySet<ContainerEntry> = new Set();

  override set(id: ContainerId, entry: ContainerEntry): this {
    // Map's constructor calls set() before our field exists: it is only ever called without entries here.
    const previous = super.get(id);
    if (previous !== entry) {
      if (previous !== undefined) this.unlink(previous);
      const sandboxId = entry.record.sandboxId;
      let set = this.bySandbox.get(sandboxId);
      if (set === undefined) {
        set = new Set();
        this.bySandbox.set(sandboxId, set);
      }
      set.add(entry);
    }
    return super.set(id, entry);
  }

  override delete(id: ContainerId): boolean {
    const previous = super.get(id);
    if (previous !== undefined) this.unlink(previous);
    return super.delete(id);
  }

  override clear(): void {
    this.bySandbox.clear();
    super.clear();
  }

  /** The containers of one pod, pending ones included, in the order they were added. */
  ofSandbox(sandboxId: SandboxId): ReadonlySet<ContainerEntry> {
    return this.bySandbox.get(sandboxId) ?? ContainerIndex.none;
  }

  private unlink(entry: ContainerEntry): void {
    const sandboxId = entry.record.sandboxId;
    const set = this.bySandbox.get(sandboxId);
    if (set === undefined) return;
    set.delete(entry);
    if (set.size === 0) this.bySandbox.delete(sandboxId);
  }
}

export function newSandboxEntry(record: SandboxRecord, status: SandboxStatusData): SandboxEntry {
  return {
    record,
    status,
    lock: new Mutex(),
    nameKey: sandboxNameKey(record.config.metadata),
    removed: false,
    stopping: false,
    creating: new Set(),
  };
}

export function newContainerEntry(record: ContainerRecord, status: ContainerStatusData): ContainerEntry {
  return {
    record,
    status,
    lock: new Mutex(),
    nameKey: containerNameKey(record.sandboxId, record.config.metadata),
    removed: false,
  };
}

/** containerd's makeSandboxName: name_namespace_uid_attempt. */
export function sandboxNameKey(m: PodSandboxMetadata): string {
  return [m.name, m.namespace ?? "", m.uid ?? "", String(m.attempt ?? 0)].join("_");
}

/** Display form of a container name: name_attempt (unique within its pod). */
export function containerDisplayName(m: ContainerMetadata): string {
  return `${m.name}_${m.attempt ?? 0}`;
}

export function containerNameKey(sandboxId: SandboxId, m: ContainerMetadata): string {
  return `${sandboxId}/${containerDisplayName(m)}`;
}

const SANDBOX_LOOKUP = { kind: "pod sandbox", field: "podSandboxId" };
const CONTAINER_LOOKUP = { kind: "container", field: "containerId" };

function* visibleSandboxIds(ctx: RuntimeContext): Iterable<SandboxId> {
  for (const [id, e] of ctx.sandboxes) if (!isSandboxPending(e.status)) yield id;
}
function* visibleContainerIds(ctx: RuntimeContext): Iterable<ContainerId> {
  for (const [id, e] of ctx.containers) if (!isContainerPending(e.status)) yield id;
}

/** Finds a pod sandbox by full ID or unique prefix; pending (still being created) ones are invisible. */
export function findSandbox(ctx: RuntimeContext, query: string): SandboxEntry {
  // A full ID (what kubelet sends) is one map lookup; an exact match wins over prefixes in matchId too.
  const exact = ctx.sandboxes.get(query as SandboxId);
  if (exact !== undefined && !isSandboxPending(exact.status)) return exact;
  return ctx.sandboxes.get(resolveId(visibleSandboxIds(ctx), query, SANDBOX_LOOKUP))!;
}
export function findSandboxOrUndefined(ctx: RuntimeContext, query: string): SandboxEntry | undefined {
  const id = matchId(visibleSandboxIds(ctx), query, SANDBOX_LOOKUP);
  return id === undefined ? undefined : ctx.sandboxes.get(id);
}
export function findContainer(ctx: RuntimeContext, query: string): ContainerEntry {
  const exact = ctx.containers.get(query as ContainerId);
  if (exact !== undefined && !isContainerPending(exact.status)) return exact;
  return ctx.containers.get(resolveId(visibleContainerIds(ctx), query, CONTAINER_LOOKUP))!;
}
/**
 * Throws FailedPrecondition unless the container is in one of `allowed`
 * (the CRI's rule for each RPC), naming the container, its state and the RPC.
 */
export function requireContainerState(entry: ContainerEntry, allowed: ContainerState[], rpc: string): void {
  const state = containerState(entry.status);
  if (!allowed.includes(state)) {
    throw CriError.failedPrecondition(
      `container "${entry.record.id}" is in state ${state}: ${rpc} needs ${allowed.join(" or ")}`,
    );
  }
}

/** FailedPrecondition naming the pod's state unless it is SANDBOX_READY (PortForward, at issue and at connect). */
export function requireSandboxReady(entry: SandboxEntry, rpc: string): void {
  if (entry.status.state !== "SANDBOX_READY") {
    throw CriError.failedPrecondition(
      `pod sandbox "${entry.record.id}" is in state ${entry.status.state}: ${rpc} needs SANDBOX_READY`,
    );
  }
}

export function findContainerOrUndefined(ctx: RuntimeContext, query: string): ContainerEntry | undefined {
  const id = matchId(visibleContainerIds(ctx), query, CONTAINER_LOOKUP);
  return id === undefined ? undefined : ctx.containers.get(id);
}

/**
 * Resolves a List filter's ID as containerd does: a full ID or unique prefix
 * selects that object; an unknown or ambiguous prefix selects nothing (a
 * filter narrows, it does not fail).
 */
export function filterId<T extends string>(ids: Iterable<T>, query: string): T | null {
  let found: T | null = null;
  for (const id of ids) {
    if (id === query) return id;
    if (id.startsWith(query)) {
      if (found !== null) return null;
      found = id;
    }
  }
  return found;
}
export function filterSandboxId(ctx: RuntimeContext, query: string): SandboxId | null {
  return filterId(visibleSandboxIds(ctx), query);
}
export function filterContainerId(ctx: RuntimeContext, query: string): ContainerId | null {
  return filterId(visibleContainerIds(ctx), query);
}

/** Every pair of the selector must be present with the same value (CRI label_selector). */
export function matchesLabels(labels: StringMap | undefined, selector: StringMap | undefined): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

/** Visible containers of a pod (pending ones excluded). */
export function containersOf(ctx: RuntimeContext, sandboxId: SandboxId): ContainerEntry[] {
  const out: ContainerEntry[] = [];
  for (const e of ctx.containers.ofSandbox(sandboxId)) if (!isContainerPending(e.status)) out.push(e);
  return out;
}

/** Persists then swaps in a new status (and record): memory never runs ahead of disk. */
export async function saveSandbox(
  ctx: RuntimeContext,
  entry: SandboxEntry,
  status: SandboxStatusData,
  record: SandboxRecord = entry.record,
): Promise<void> {
  await ctx.store.putSandbox({ metadata: record, status });
  entry.record = record;
  entry.status = status;
}

export async function saveContainer(
  ctx: RuntimeContext,
  entry: ContainerEntry,
  status: ContainerStatusData,
  record: ContainerRecord = entry.record,
): Promise<void> {
  await ctx.store.putContainer({ metadata: record, status });
  entry.record = record;
  entry.status = status;
}

/** Runs `fn` under the container's lock, answering NotFound if it was removed while we waited. */
export function withContainerLock<T>(entry: ContainerEntry, fn: () => Promise<T>): Promise<T> {
  return entry.lock.run(async () => {
    if (entry.removed) throw CriError.notFound(`container "${entry.record.id}" not found`);
    return fn();
  });
}

export function withSandboxLock<T>(entry: SandboxEntry, fn: () => Promise<T>): Promise<T> {
  return entry.lock.run(async () => {
    if (entry.removed) throw CriError.notFound(`pod sandbox "${entry.record.id}" not found`);
    return fn();
  });
}

/** Converts a backend failure into a CriError that says which operation and object failed. */
export function backendError(what: string, err: unknown): CriError {
  if (isCriError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return CriError.internal(`${what}: ${message}`, err);
}

/**
 * Runs `fn` with the signal a call hands the backend's long operations: the
 * service's lifetime (aborted by close()) and the caller's own, whichever
 * aborts first (cri-types' withCombinedSignal: no AbortSignal.any leak).
 */
export function withCallSignal<T>(
  ctx: RuntimeContext,
  caller: AbortSignal | undefined,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  return withCombinedSignal(ctx.lifetime, caller, fn);
}
