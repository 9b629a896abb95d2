/** Attach: a URL on the streaming server where the client reaches a running container's stdio. */
import type { AttachRequest, CallOptions, StreamingUrlResponse } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { findContainer, type RuntimeContext, requireContainerState } from "../_context.js";
import { NO_STREAMING } from "../streaming/_unavailable.js";

/**
 * Attach RPC, as containerd: the container must be RUNNING; stdin is honoured only when the
 * container was created with `stdin` (the backend ignores the client's otherwise).
 *
 * @example
 * const { url } = await runtime.attach({ containerId: id, stdout: true, stderr: true });
 */
export async function attach(
  ctx: RuntimeContext,
  req: AttachRequest,
  _opts?: CallOptions,
): Promise<StreamingUrlResponse> {
  if (!ctx.streaming) throw CriError.unimplemented("Attach", NO_STREAMING);
  const entry = findContainer(ctx, req.containerId);
  requireContainerState(entry, ["CONTAINER_RUNNING"], "Attach");
  return { url: ctx.streaming.getAttach({ ...req, containerId: entry.record.id }).url };
}
