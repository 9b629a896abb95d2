/** StopPodSandbox: force-stop the pod's containers, stop its infra, mark it NOTREADY. Idempotent. */
import type { CallOptions, Empty, StopPodSandboxRequest } from "@servin/cri-types";
import { nowNanos } from "@servin/cri-types";
import {
  backendError,
  containersOf,
  findSandboxOrUndefined,
  type RuntimeContext,
  type SandboxEntry,
  saveSandbox,
  withCallSignal,
  withContainerLock,
  withSandboxLock,
} from "../_context.js";
import { stopContainerLocked } from "../container/stop.js";
import { emitEvent } from "../events/emit.js";

/**
 * StopPodSandbox RPC. An unknown ID succeeds: the CRI says stop "must not
 * return an error if all relevant resources have already been reclaimed",
 * and CRI-O answers so. (containerd answers NotFound here; kubelet tolerates
 * both, so the CRI's text decides.)
 *
 * The caller's signal (or close()) cuts the waits short with its CriError
 * reason, else DeadlineExceeded; the pod stays READY (some containers may be
 * stopped already, the infra may still be exiting) and a later
 * StopPodSandbox finishes the job.
 *
 * @example
 * await runtime.stopPodSandbox({ podSandboxId: id });
 */
export async function stopPodSandbox(
  ctx: RuntimeContext,
  req: StopPodSandboxRequest,
  opts?: CallOptions,
): Promise<Empty> {
  const entry = findSandboxOrUndefined(ctx, req.podSandboxId);
  if (entry === undefined) return {};
  try {
    await withCallSignal(ctx, opts?.signal, (signal) =>
      withSandboxLock(entry, () => stopSandboxLocked(ctx, entry, signal)),
    );
  } catch (err) {
    // Removed while we waited for the lock: that is stopped, too.
    if (entry.removed) return {};
    throw err;
  }
  return {};
}

/** Stops a pod whose lock the caller holds. */
export async function stopSandboxLocked(
  ctx: RuntimeContext,
  entry: SandboxEntry,
  signal?: AbortSignal,
): Promise<void> {
  const id = entry.record.id;
  entry.stopping = true;
  try {
    // Kubelet has already stopped the containers gracefully; like containerd, what is left is killed (timeout 0).
    const containers = containersOf(ctx, id);
    await Promise.all(
      containers.map((c) =>
        withContainerLock(c, () => stopContainerLocked(ctx, c, 0, signal)).catch((err: unknown) => {
          if (!c.removed) throw err;
        }),
      ),
    );
    try {
      // Always asked, even when already NOTREADY: a previous stop may have failed halfway (idempotent).
      await ctx.backend.stopSandbox(entry.record, signal);
    } catch (err) {
      throw backendError(`stop pod sandbox "${id}"`, err);
    }
    if (entry.status.state !== "SANDBOX_NOTREADY" || entry.status.stoppedAt === 0n) {
      const { network: _released, ...rest } = entry.status;
      await saveSandbox(ctx, entry, { ...rest, state: "SANDBOX_NOTREADY", stoppedAt: nowNanos() });
      ctx.logger.info(`pod sandbox "${id}" stopped`);
      emitEvent(ctx, id, "CONTAINER_STOPPED_EVENT", id);
    }
  } finally {
    entry.stopping = false;
  }
}
