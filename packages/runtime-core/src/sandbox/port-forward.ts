/** PortForward: a URL on the streaming server where the client opens connections to ports of a pod. */
import type { CallOptions, PortForwardRequest, StreamingUrlResponse } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { findSandbox, type RuntimeContext, requireSandboxReady } from "../_context.js";
import { NO_STREAMING } from "../streaming/_unavailable.js";

/**
 * PortForward RPC, as containerd: the pod must be READY (FailedPrecondition otherwise); the
 * streaming server checks the ports (1–65535) and issues the URL for the pod's full ID.
 *
 * @example
 * const { url } = await runtime.portForward({ podSandboxId: id, port: [8080] });
 */
export async function portForward(
  ctx: RuntimeContext,
  req: PortForwardRequest,
  _opts?: CallOptions,
): Promise<StreamingUrlResponse> {
  if (!ctx.streaming) throw CriError.unimplemented("PortForward", NO_STREAMING);
  const entry = findSandbox(ctx, req.podSandboxId);
  requireSandboxReady(entry, "PortForward");
  return { url: ctx.streaming.getPortForward({ ...req, podSandboxId: entry.record.id }).url };
}
