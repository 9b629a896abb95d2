/** RuntimeConfig and UpdateRuntimeConfig: the cgroup driver kubelet must match, and the pod CIDR it hands us. */
import type {
  CallOptions,
  Empty,
  RuntimeConfigResponse,
  UpdateRuntimeConfigRequest,
} from "@servin/cri-types";
import { backendError, type RuntimeContext } from "../_context.js";

/**
 * RuntimeConfig RPC. Servin drives cgroups through cgroupfs paths (no
 * systemd scopes), so kubelet must use the cgroupfs driver too.
 *
 * @example
 * await runtime.runtimeConfig({}); // { linux: { cgroupDriver: "CGROUPFS" } }
 */
export async function runtimeConfig(
  _ctx: RuntimeContext,
  _req: Empty,
  _opts?: CallOptions,
): Promise<RuntimeConfigResponse> {
  return { linux: { cgroupDriver: "CGROUPFS" } };
}

/**
 * UpdateRuntimeConfig RPC. Kubelet sends the node's pod CIDR here at start;
 * we keep it (shown in verbose Status) and pass it to the backend when it
 * wants it (`backend.updateRuntimeConfig`, optional), e.g. for CNI IPAM.
 *
 * @example
 * await runtime.updateRuntimeConfig({ runtimeConfig: { networkConfig: { podCidr: "10.88.0.0/16" } } });
 */
export async function updateRuntimeConfig(
  ctx: RuntimeContext,
  req: UpdateRuntimeConfigRequest,
  _opts?: CallOptions,
): Promise<Empty> {
  const next = req.runtimeConfig ?? {};
  try {
    await ctx.backend.updateRuntimeConfig?.(next);
  } catch (err) {
    throw backendError("update runtime config", err);
  }
  ctx.runtimeConfig = next;
  return {};
}
