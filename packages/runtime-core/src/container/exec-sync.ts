/** ExecSync: run a command in a running container and return its output (delegated to the backend). */
import type { CallOptions, ExecSyncRequest, ExecSyncResponse } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { backendError, findContainer, type RuntimeContext, requireContainerState } from "../_context.js";
import { MAX_TIMER_SECONDS } from "../_limits.js";

/**
 * ExecSync RPC. Needs a RUNNING container (FailedPrecondition otherwise).
 * Takes no lock: a probe running for minutes must not block Stop or Remove.
 * `timeout` 0 means none; the caller's signal cancels the exec.
 *
 * @example
 * const { stdout, exitCode } = await runtime.execSync({ containerId: id, cmd: ["echo", "hi"], timeout: 5 });
 */
export async function execSync(
  ctx: RuntimeContext,
  req: ExecSyncRequest,
  opts?: CallOptions,
): Promise<ExecSyncResponse> {
  if (!Array.isArray(req.cmd) || req.cmd.length === 0) {
    throw CriError.invalidArgument("cmd: expected a non-empty command", [
      { path: "cmd", message: "expected a non-empty command" },
    ]);
  }
  const timeout = req.timeout ?? 0;
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw CriError.invalidArgument("timeout: expected a non-negative number of seconds");
  }
  const entry = findContainer(ctx, req.containerId);
  requireContainerState(entry, ["CONTAINER_RUNNING"], "ExecSync");
  try {
    return await ctx.backend.execSync(
      entry.record,
      req.cmd,
      Math.min(timeout, MAX_TIMER_SECONDS),
      opts?.signal,
    );
  } catch (err) {
    throw backendError(`exec in container "${entry.record.id}"`, err);
  }
}
