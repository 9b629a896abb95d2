/** RemoveContainer: force-stop if running, remove backend resources and the record. Idempotent. */
import type { CallOptions, Empty, RemoveContainerRequest } from "@servin/cri-types";
import {
  backendError,
  type ContainerEntry,
  findContainerOrUndefined,
  type RuntimeContext,
  withCallSignal,
} from "../_context.js";
import { emitEvent } from "../events/emit.js";
import { stopContainerLocked } from "./stop.js";

/**
 * RemoveContainer RPC. An unknown ID succeeds (CRI: "must not return an
 * error if the container has already been removed"). A RUNNING or UNKNOWN
 * container is force-stopped first (timeout 0), as the CRI requires.
 * Cut short by the caller's signal (or close()), it answers with the signal's
 * CriError reason, else DeadlineExceeded, and keeps the record: the backend
 * left the container removable, and a later RemoveContainer finishes it.
 *
 * @example
 * await runtime.removeContainer({ containerId: id });
 */
export async function removeContainer(
  ctx: RuntimeContext,
  req: RemoveContainerRequest,
  opts?: CallOptions,
): Promise<Empty> {
  const entry = findContainerOrUndefined(ctx, req.containerId);
  if (entry !== undefined) {
    await withCallSignal(ctx, opts?.signal, (signal) => removeContainerEntry(ctx, entry, signal));
  }
  return {};
}

/** Removes one container (takes its lock); a no-op when already removed. */
export function removeContainerEntry(
  ctx: RuntimeContext,
  entry: ContainerEntry,
  signal?: AbortSignal,
): Promise<void> {
  return entry.lock.run(async () => {
    if (entry.removed) return;
    const { id, sandboxId } = entry.record;
    await stopContainerLocked(ctx, entry, 0, signal);
    try {
      await ctx.backend.removeContainer(entry.record, ctx.sandboxes.get(sandboxId)?.record, signal);
    } catch (err) {
      throw backendError(`remove container "${id}"`, err);
    }
    await ctx.store.deleteContainer(id);
    entry.removed = true;
    ctx.containers.delete(id);
    ctx.containerNames.release(entry.nameKey, id);
    ctx.logger.info(`container "${id}" removed`);
    emitEvent(ctx, id, "CONTAINER_DELETED_EVENT", sandboxId);
  });
}
