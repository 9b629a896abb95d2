/** UpdateContainerResources: apply new cgroup limits through the backend and remember them in the status. */
import type {
  CallOptions,
  ContainerResources,
  Empty,
  UpdateContainerResourcesRequest,
} from "@servin/cri-types";
import {
  backendError,
  findContainer,
  type RuntimeContext,
  requireContainerState,
  saveContainer,
  withContainerLock,
} from "../_context.js";

function defined<T extends object>(value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * UpdateContainerResources RPC, for CREATED or RUNNING containers
 * (FailedPrecondition otherwise). The new values are merged over the current
 * ones (fields left unset keep their value, as containerd merges), applied by
 * the backend first and only then persisted, so ContainerStatus.resources
 * never claims limits the kernel does not have. Request annotations are not
 * stored (containerd passes them only to NRI plugins, which we do not have).
 *
 * @example
 * await runtime.updateContainerResources({ containerId: id, linux: { cpuShares: 512 } });
 */
export async function updateContainerResources(
  ctx: RuntimeContext,
  req: UpdateContainerResourcesRequest,
  _opts?: CallOptions,
): Promise<Empty> {
  const entry = findContainer(ctx, req.containerId);
  await withContainerLock(entry, async () => {
    const id = entry.record.id;
    requireContainerState(entry, ["CONTAINER_CREATED", "CONTAINER_RUNNING"], "UpdateContainerResources");
    const current: ContainerResources = entry.status.resources ?? {
      ...(entry.record.config.linux?.resources ? { linux: entry.record.config.linux.resources } : {}),
    };
    const next: ContainerResources = { ...current };
    if (req.linux) next.linux = { ...current.linux, ...defined(req.linux) };
    if (req.windows) next.windows = { ...current.windows, ...defined(req.windows) };
    try {
      await ctx.backend.updateContainerResources(entry.record, {
        ...(next.linux ? { linux: next.linux } : {}),
        ...(next.windows ? { windows: next.windows } : {}),
      });
    } catch (err) {
      throw backendError(`update resources of container "${id}"`, err);
    }
    await saveContainer(ctx, entry, { ...entry.status, resources: next });
  });
  return {};
}
