/** ReopenContainerLog: ask the backend to reopen the CRI log file after kubelet rotated it. */
import type { CallOptions, Empty, ReopenContainerLogRequest } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { backendError, findContainer, type RuntimeContext, withContainerLock } from "../_context.js";
import { containerState } from "../store/container-status.js";

/**
 * ReopenContainerLog RPC. Only a RUNNING container has a log writer to
 * reopen (containerd answers "container is not running" otherwise).
 *
 * @example
 * await runtime.reopenContainerLog({ containerId: id });
 */
export async function reopenContainerLog(
  ctx: RuntimeContext,
  req: ReopenContainerLogRequest,
  _opts?: CallOptions,
): Promise<Empty> {
  const entry = findContainer(ctx, req.containerId);
  await withContainerLock(entry, async () => {
    const state = containerState(entry.status);
    if (state !== "CONTAINER_RUNNING") {
      throw CriError.failedPrecondition(
        `container "${entry.record.id}" is in state ${state}: only a running container's log can be reopened`,
      );
    }
    try {
      await ctx.backend.reopenContainerLog(entry.record);
    } catch (err) {
      throw backendError(`reopen log of container "${entry.record.id}"`, err);
    }
  });
  return {};
}
