/** StartContainer: CREATED → RUNNING through the backend; a failed start leaves the container EXITED. */
import type { CallOptions, Empty, StartContainerRequest } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import {
  backendError,
  type ContainerEntry,
  findContainer,
  type RuntimeContext,
  requireContainerState,
  saveContainer,
  withCallSignal,
  withContainerLock,
} from "../_context.js";
import { emitEvent } from "../events/emit.js";

/** containerd's errorStartExitCode / errorStartReason for a process that could not be started. */
export const START_ERROR_EXIT_CODE = 128;
export const START_ERROR_REASON = "StartError";

/**
 * StartContainer RPC. Only a CREATED container in a READY pod can start
 * (FailedPrecondition otherwise). If the backend fails, the container is
 * recorded as EXITED with exit code 128 and reason StartError (containerd),
 * so kubelet sees why and recreates it — except when the caller's signal (or
 * close()) cut the start short before the backend started anything: the
 * container then stays CREATED and the call answers with the signal's
 * CriError reason, else DeadlineExceeded.
 *
 * @example
 * await runtime.startContainer({ containerId: id });
 */
export async function startContainer(
  ctx: RuntimeContext,
  req: StartContainerRequest,
  opts?: CallOptions,
): Promise<Empty> {
  const entry = findContainer(ctx, req.containerId);
  await withCallSignal(ctx, opts?.signal, (signal) => startLocked(ctx, entry, signal));
  return {};
}

/** Starts a container (takes its lock); `signal` reaches the backend's start. */
function startLocked(ctx: RuntimeContext, entry: ContainerEntry, signal: AbortSignal): Promise<void> {
  return withContainerLock(entry, async () => {
    const id = entry.record.id;
    requireContainerState(entry, ["CONTAINER_CREATED"], "StartContainer");
    const sandbox = ctx.sandboxes.get(entry.record.sandboxId);
    if (sandbox === undefined || sandbox.status.state !== "SANDBOX_READY" || sandbox.stopping) {
      throw CriError.failedPrecondition(
        `pod sandbox "${entry.record.sandboxId}" of container "${id}" is not ready: cannot start the container`,
      );
    }
    let result: Awaited<ReturnType<typeof ctx.backend.startContainer>>;
    try {
      result = await ctx.backend.startContainer(entry.record, sandbox.record, signal);
    } catch (err) {
      const error = backendError(`start container "${id}"`, err);
      if (signal.aborted) {
        const observed = await ctx.backend.inspectContainer(entry.record).catch(() => undefined);
        if (observed?.state === "created") throw error; // nothing was started: still CREATED, truthfully
      }
      await saveContainer(ctx, entry, {
        ...entry.status,
        finishedAt: nowNanos(),
        exitCode: START_ERROR_EXIT_CODE,
        reason: START_ERROR_REASON,
        message: error.message,
      }).catch((saveErr: unknown) => ctx.logger.error(`recording the failed start of "${id}"`, saveErr));
      throw error;
    }
    await saveContainer(
      ctx,
      entry,
      { ...entry.status, startedAt: result.startedAt !== 0n ? result.startedAt : nowNanos() },
      result.backendState ? { ...entry.record, backendState: result.backendState } : entry.record,
    );
    ctx.logger.info(`container "${id}" started`);
    emitEvent(ctx, id, "CONTAINER_STARTED_EVENT", entry.record.sandboxId);
  });
}
