/** StopContainer: stop signal, grace period, SIGKILL (in the backend); record the exit. */
import type { CallOptions, Empty, StopContainerRequest } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import {
  backendError,
  type ContainerEntry,
  findContainer,
  type RuntimeContext,
  saveContainer,
  withCallSignal,
  withContainerLock,
} from "../_context.js";
import { MAX_TIMER_SECONDS } from "../_limits.js";
import type { ContainerExit } from "../backend.js";
import { emitEvent } from "../events/emit.js";
import type { ContainerStatusData } from "../store/container-status.js";
import { containerState } from "../store/container-status.js";

/** containerd's unknownExitCode: what a container that vanished is recorded with when stopped. */
export const UNKNOWN_EXIT_CODE = 255;

/**
 * StopContainer RPC. `timeout` seconds between the stop signal and SIGKILL;
 * 0 (the CRI default) kills at once. Stopping a CREATED or EXITED container
 * is a no-op (containerd). An unknown ID is NotFound, as containerd answers
 * (kubelet tolerates it).
 *
 * The caller's signal (or close()) cuts the wait short: the call answers with
 * the signal's CriError reason (Unavailable when closing), else
 * DeadlineExceeded, and the container stays RUNNING — it may still be
 * exiting from the signal it got; its exit is recorded when it comes, and a
 * later StopContainer finishes the job.
 *
 * @example
 * await runtime.stopContainer({ containerId: id, timeout: 10 });
 */
export async function stopContainer(
  ctx: RuntimeContext,
  req: StopContainerRequest,
  opts?: CallOptions,
): Promise<Empty> {
  const entry = findContainer(ctx, req.containerId);
  const timeout = req.timeout ?? 0;
  if (!Number.isFinite(timeout)) throw CriError.invalidArgument(`timeout: expected a number of seconds`);
  // Timers hold at most 2^31-1 ms (~24.8 days); a longer timeout would fire at once. No kubelet waits that long.
  const seconds = Math.min(Math.max(0, timeout), MAX_TIMER_SECONDS);
  await withCallSignal(ctx, opts?.signal, (signal) =>
    withContainerLock(entry, () => stopContainerLocked(ctx, entry, seconds, signal)),
  );
  return {};
}

/** Stops a container whose lock the caller holds; `signal` cuts the backend's wait short (nothing is recorded then). */
export async function stopContainerLocked(
  ctx: RuntimeContext,
  entry: ContainerEntry,
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<void> {
  const state = containerState(entry.status);
  if (state !== "CONTAINER_RUNNING" && state !== "CONTAINER_UNKNOWN") return;
  const id = entry.record.id;
  let exit: ContainerExit | undefined;
  try {
    exit = await ctx.backend.stopContainer(entry.record, timeoutSeconds, signal);
  } catch (err) {
    if (state === "CONTAINER_RUNNING" || signal?.aborted) throw backendError(`stop container "${id}"`, err);
    // UNKNOWN: the backend has lost it already; stopping it is only bookkeeping.
    ctx.logger.debug(`stop of unknown container "${id}" failed in the backend`, err);
  }
  if (exit === undefined && state === "CONTAINER_RUNNING") {
    const observed = await ctx.backend.inspectContainer(entry.record).catch(() => undefined);
    if (observed?.state === "exited") exit = observed.exit;
    else if (observed?.state === "running") {
      throw CriError.internal(`stop container "${id}": the backend still reports it running`);
    }
  }
  await saveContainer(ctx, entry, exitStatus(entry, exit));
  ctx.logger.info(`container "${id}" stopped (exit code ${entry.status.exitCode})`);
  emitEvent(ctx, id, "CONTAINER_STOPPED_EVENT", entry.record.sandboxId);
}

/** The status after an exit; without one (the process is gone, nobody knows how) containerd's 255/Unknown. */
export function exitStatus(entry: ContainerEntry, exit: ContainerExit | undefined): ContainerStatusData {
  const reported = exit?.finishedAt && exit.finishedAt !== 0n ? exit.finishedAt : nowNanos();
  // An exit time read from a file's mtime comes from the kernel's coarse clock, up to a tick behind the
  // precise clock StartContainer read: a container that exits at once must not finish before it started.
  const finishedAt = reported < entry.status.startedAt ? entry.status.startedAt : reported;
  return {
    ...entry.status,
    unknown: false,
    finishedAt,
    exitCode: exit?.exitCode ?? UNKNOWN_EXIT_CODE,
    reason: exit?.reason ?? "Unknown",
    message: exit?.message ?? (exit ? "" : "the container's process was lost; its exit code is unknown"),
  };
}
