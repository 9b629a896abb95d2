/** PortForward: a URL on the streaming server where the client opens connections to ports of a pod. */
import type { CallOptions, PortForwardRequest, StreamingUrlResponse } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { findSandbox, type RuntimeContext } from "../_context.js";
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
  if (entry.status.state !== "SANDBOX_READY") {
    throw CriError.failedPrecondition(
      `pod sandbox "${entry.record.id}" is in state ${entry.status.state}: PortForward needs SANDBOX_READY`,
    );
  }
  return { url: ctx.streaming.getPortForward({ ...req, podSandboxId: entry.record.id }).url };
}
