/**
 * Startup recovery: reload the store and reconcile it with what the backend
 * reports, so that nothing is lost and nothing is leaked across a restart or crash.
 */
import { nowNanos } from "@servin/cri-types";
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
import type { ContainerExit } from "./backend.js";
import { exitStatus } from "./container/stop.js";
import { containerState, isContainerPending } from "./store/container-status.js";
import { isSandboxPending } from "./store/sandbox-status.js";
import type { StoredContainer, StoredSandbox, StoreSnapshot } from "./store/types.js";

/** How many backend inspections run at once during recovery (the machine may have 2 cores). */
const INSPECT_CONCURRENCY = 8;

export interface RecoveryReport {
  sandboxes: number;
  containers: number;
  /** Pending (half-created) objects cleaned up through the backend and dropped. */
  cleanedUp: number;
  /** Containers found exited, vanished or changed, pods found not ready. */
  changed: number;
}

/** Phase 1: drop what never finished being created, index the rest. Call before subscribing to exits. */
export async function loadAndClean(ctx: RuntimeContext, snapshot: StoreSnapshot): Promise<RecoveryReport> {
  const report: RecoveryReport = { sandboxes: 0, containers: 0, cleanedUp: 0, changed: 0 };
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

  // Backend removal is idempotent, so cleaning something the backend never made is harmless.
  const allSandboxes = new Map<string, StoredSandbox>(snapshot.sandboxes.map((s) => [s.metadata.id, s]));
  // A failed cleanup keeps its record, so the next start tries again; it must not keep this start from finishing.
  await pool(doomed, async (c) => {
    const why = isContainerPending(c.status) ? "half-created" : "orphaned (its pod sandbox is gone)";
    ctx.logger.warn(`recovery: cleaning up ${why} container "${c.metadata.id}"`);
    try {
      await ctx.backend.removeContainer(c.metadata, allSandboxes.get(c.metadata.sandboxId)?.metadata);
      await ctx.store.deleteContainer(c.metadata.id);
      report.cleanedUp++;
    } catch (err) {
      ctx.logger.error(
        `recovery: cleaning up container "${c.metadata.id}" failed; retrying at next start`,
        err,
      );
    }
  });
  await pool(pendingSandboxes, async (s) => {
    ctx.logger.warn(`recovery: cleaning up half-created pod sandbox "${s.metadata.id}"`);
    try {
      await ctx.backend.stopSandbox(s.metadata);
      await ctx.backend.removeSandbox(s.metadata);
      await ctx.store.deleteSandbox(s.metadata.id);
      report.cleanedUp++;
    } catch (err) {
      ctx.logger.error(
        `recovery: cleaning up pod sandbox "${s.metadata.id}" failed; retrying at next start`,
        err,
      );
    }
  });
  return report;
}

/** Phase 2: ask the backend about every object and bring its status up to date. */
export async function reconcile(ctx: RuntimeContext, report: RecoveryReport): Promise<void> {
  await pool([...ctx.sandboxes.values()], async (entry) => {
    if (await entry.lock.run(() => reconcileSandbox(ctx, entry))) report.changed++;
  });
  await pool([...ctx.containers.values()], async (entry) => {
    if (await entry.lock.run(() => reconcileContainer(ctx, entry))) report.changed++;
  });
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

async function pool<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(INSPECT_CONCURRENCY, items.length) }, worker));
}
