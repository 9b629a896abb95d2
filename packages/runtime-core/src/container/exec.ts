/** Exec: a URL on the streaming server where the client runs an interactive command in a running container. */
import type { CallOptions, ExecRequest, StreamingUrlResponse } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { findContainer, type RuntimeContext, requireContainerState } from "../_context.js";
import { NO_STREAMING } from "../streaming/_unavailable.js";

/**
 * Exec RPC, as containerd: the container must be RUNNING (FailedPrecondition otherwise),
 * `cmd` non-empty; the streaming server checks the stream selection (tty with stderr, none
 * asked for) and issues the URL for the container's full ID.
 *
 * @example
 * const { url } = await runtime.exec({ containerId: id, cmd: ["sh"], stdin: true, stdout: true, tty: true });
 */
export async function exec(
  ctx: RuntimeContext,
  req: ExecRequest,
  _opts?: CallOptions,
): Promise<StreamingUrlResponse> {
  if (!ctx.streaming) throw CriError.unimplemented("Exec", NO_STREAMING);
  if (!Array.isArray(req.cmd) || req.cmd.length === 0) {
    throw CriError.invalidArgument("cmd: expected a non-empty command", [
      { path: "cmd", message: "expected a non-empty command" },
    ]);
  }
  const entry = findContainer(ctx, req.containerId);
  requireContainerState(entry, ["CONTAINER_RUNNING"], "Exec");
  return { url: ctx.streaming.getExec({ ...req, containerId: entry.record.id }).url };
}
