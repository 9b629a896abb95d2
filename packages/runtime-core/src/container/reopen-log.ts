/** ReopenContainerLog: ask the backend to reopen the CRI log file after kubelet rotated it. */
import type { CallOptions, Empty, ReopenContainerLogRequest } from "@servin/cri-types";
import {
  backendError,
  findContainer,
  type RuntimeContext,
  requireContainerState,
  withContainerLock,
} from "../_context.js";

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
    requireContainerState(entry, ["CONTAINER_RUNNING"], "ReopenContainerLog");
    try {
      await ctx.backend.reopenContainerLog(entry.record);
    } catch (err) {
      throw backendError(`reopen log of container "${entry.record.id}"`, err);
    }
  });
  return {};
}
