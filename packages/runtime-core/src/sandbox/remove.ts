/** RemovePodSandbox: stop the pod, remove its containers, its backend resources and its record. Idempotent. */
import { rm } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import type { CallOptions, Empty, RemovePodSandboxRequest } from "@servin/cri-types";
import {
  backendError,
  containersOf,
  findSandboxOrUndefined,
  type RuntimeContext,
  type SandboxEntry,
  withCallSignal,
  withSandboxLock,
} from "../_context.js";
import { removeContainerEntry } from "../container/remove.js";
import { emitEvent } from "../events/emit.js";
import { toSandboxStatus } from "./status.js";
import { stopSandboxLocked } from "./stop.js";

/**
 * RemovePodSandbox RPC. An unknown ID succeeds (CRI: "must not return an
 * error if the sandbox has already been removed"). A READY pod is stopped
 * first and running containers are force-stopped, as current containerd does.
 * Cut short by the caller's signal (or close()), it answers with the signal's
 * CriError reason, else DeadlineExceeded, and keeps the pod's record (and
 * those of containers not yet removed): a later RemovePodSandbox finishes it.
 *
 * @example
 * await runtime.removePodSandbox({ podSandboxId: id });
 */
export async function removePodSandbox(
  ctx: RuntimeContext,
  req: RemovePodSandboxRequest,
  opts?: CallOptions,
): Promise<Empty> {
  const entry = findSandboxOrUndefined(ctx, req.podSandboxId);
  if (entry === undefined) return {};
  try {
    await withCallSignal(ctx, opts?.signal, (signal) => removeLocked(ctx, entry, signal));
  } catch (err) {
    if (entry.removed) return {};
    throw err;
  } finally {
    entry.stopping = false;
  }
  return {};
}

/** Stops and removes a pod and its containers (takes the pod's lock); `signal` reaches every backend wait. */
function removeLocked(ctx: RuntimeContext, entry: SandboxEntry, signal: AbortSignal): Promise<void> {
  const id = entry.record.id;
  return withSandboxLock(entry, async () => {
    // Stop first: NOTREADY refuses new CreateContainer calls, so the wait below is complete.
    entry.stopping = true;
    await stopSandboxLocked(ctx, entry, signal);
    entry.stopping = true;
    await Promise.allSettled([...entry.creating]);
    // All at once, like the stop: each removal waits for its own fsyncs (the backend's record of it, the
    // store's), which then overlap instead of two per container in a row. A failed one keeps its record,
    // and the pod keeps its own: a later RemovePodSandbox finishes them.
    const removals = await Promise.allSettled(
      containersOf(ctx, id).map((c) => removeContainerEntry(ctx, c, signal)),
    );
    const failed = removals.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    try {
      await ctx.backend.removeSandbox(entry.record, signal);
    } catch (err) {
      throw backendError(`remove pod sandbox "${id}"`, err);
    }
    const finalStatus = toSandboxStatus(entry);
    await ctx.store.deleteSandbox(id);
    entry.removed = true;
    ctx.sandboxes.delete(id);
    ctx.sandboxNames.release(entry.nameKey, id);
    ctx.logger.info(`pod sandbox "${id}" removed`);
    emitEvent(ctx, id, "CONTAINER_DELETED_EVENT", id, finalStatus);
    await removeOwnedLogDirectory(ctx, entry);
  });
}

/** A pod whose log directory lies below the runtime's own log root takes its logs along (best effort). */
async function removeOwnedLogDirectory(ctx: RuntimeContext, entry: SandboxEntry): Promise<void> {
  const root = ctx.ownedLogRoot;
  const dir = entry.record.config.logDirectory;
  if (root === undefined || !dir) return;
  const below = relative(resolve(root), resolve(dir));
  if (below === "" || below.startsWith("..") || isAbsolute(below)) return;
  await rm(resolve(dir), { recursive: true, force: true }).catch((err: unknown) => {
    ctx.logger.warn(`pod sandbox "${entry.record.id}": could not remove its log directory ${dir}`, err);
  });
}
