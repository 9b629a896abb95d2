/** Version RPC: who we are and which CRI we speak. */
import type { CallOptions, VersionRequest, VersionResponse } from "@servin/cri-types";
import type { RuntimeContext } from "../_context.js";

/** The kubelet runtime API version field: "0.1.0" is what every CRI runtime reports there. */
export const KUBELET_API_VERSION = "0.1.0";
/** The CRI API this service implements. */
export const RUNTIME_API_VERSION = "v1";

/**
 * Version RPC.
 *
 * @example
 * const v = await runtime.version({});
 * // { version: "0.1.0", runtimeName: "servin", runtimeVersion: "0.1.0", runtimeApiVersion: "v1" }
 */
export async function version(
  ctx: RuntimeContext,
  _req: VersionRequest,
  _opts?: CallOptions,
): Promise<VersionResponse> {
  return {
    version: KUBELET_API_VERSION,
    runtimeName: ctx.runtimeName,
    runtimeVersion: ctx.runtimeVersion,
    runtimeApiVersion: RUNTIME_API_VERSION,
  };
}
