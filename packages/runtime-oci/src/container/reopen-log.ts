/** ReopenContainerLog: conmon reopens the CRI log file (after kubelet rotated it) through its control FIFO. */
import { CriError } from "@servin/cri-types";
import type { ContainerRecord } from "@servin/runtime-core";
import { containerState } from "../_container-state.js";
import { type OciContext, paths, runtimeFor } from "../_context.js";

export async function reopenContainerLog(ctx: OciContext, container: ContainerRecord): Promise<void> {
  const state = containerState(ctx, container);
  const st = await runtimeFor(ctx, state.runtime).state(container.id);
  if (st?.status !== "running") {
    throw CriError.failedPrecondition(`container "${container.id}" is not running: cannot reopen its log`);
  }
  await ctx.monitor.reopenLog(paths.bundle(ctx, container.id), container.id, container.logPath);
}
