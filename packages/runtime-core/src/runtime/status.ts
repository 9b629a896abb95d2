/** Status RPC: RuntimeReady / NetworkReady as the backend sees them now, and the runtime handlers. */
import type { CallOptions, RuntimeHandler, StatusRequest, StatusResponse } from "@servin/cri-types";
import { backendError, type RuntimeContext } from "../_context.js";
import { stringifyInfo } from "../_json.js";

/**
 * Status RPC. Conditions come straight from `backend.conditions()`, so they
 * are true only when they hold. Handler features are reported false: the
 * core cannot vouch for them and the backend interface does not say yet.
 *
 * @example
 * const { status } = await runtime.status({});
 * status.conditions.find((c) => c.type === "RuntimeReady")?.status; // true
 */
export async function status(
  ctx: RuntimeContext,
  req: StatusRequest,
  _opts?: CallOptions,
): Promise<StatusResponse> {
  let conditions: Awaited<ReturnType<typeof ctx.backend.conditions>>;
  try {
    conditions = await ctx.backend.conditions();
  } catch (err) {
    throw backendError("read runtime conditions", err);
  }
  const handlerNames = ["", ...ctx.backend.handlers().filter((h) => h !== "")];
  const runtimeHandlers: RuntimeHandler[] = handlerNames.map((name) => ({
    name,
    features: { recursiveReadOnlyMounts: false, userNamespaces: false },
  }));
  const response: StatusResponse = {
    status: {
      conditions: [
        { type: "RuntimeReady", status: conditions.runtime.ready, ...reasonOf(conditions.runtime) },
        { type: "NetworkReady", status: conditions.network.ready, ...reasonOf(conditions.network) },
      ],
    },
    runtimeHandlers,
    features: { supplementalGroupsPolicy: false },
  };
  if (req.verbose) {
    response.info = {
      config: stringifyInfo({
        runtimeName: ctx.runtimeName,
        runtimeVersion: ctx.runtimeVersion,
        backend: ctx.backend.name,
        handlers: handlerNames,
        runtimeConfig: ctx.runtimeConfig,
      }),
      // containerd puts its CNI config here too ("cniconfig"): the network's name and plugins.
      ...(conditions.network.info ? { network: stringifyInfo(conditions.network.info) } : {}),
    };
  }
  return response;
}

function reasonOf(c: { reason: string; message: string }) {
  return { reason: c.reason, message: c.message };
}
