/** ContainerStats from the container's cgroup and writable layer (cAdvisor's definitions, as kubelet expects). */
import type { ContainerStats } from "@servin/cri-types";
import { nowNanos } from "@servin/cri-types";
import { diskUsage } from "@servin/node-kit";
import type { ContainerRecord } from "@servin/runtime-core";
import { readCgroupStats } from "../_cgroups.js";
import { containerState } from "../_container-state.js";
import type { OciContext } from "../_context.js";
import { cpuUsage, memoryUsage } from "../_usage.js";

export async function containerStats(
  ctx: OciContext,
  container: ContainerRecord,
): Promise<Omit<ContainerStats, "attributes">> {
  const state = containerState(ctx, container);
  const at = nowNanos();
  const sample = state.cgroupsPath ? await readCgroupStats(ctx.cgroupMode, state.cgroupsPath) : {};
  const layer = await diskUsage(state.rootfsMode === "copy" ? state.copyDir : state.upper);
  return {
    cpu: cpuUsage(ctx, container.id, sample, at),
    memory: memoryUsage(sample, at),
    writableLayer: {
      timestamp: at,
      fsId: { mountpoint: ctx.root },
      usedBytes: { value: layer.usedBytes },
      inodesUsed: { value: layer.inodesUsed },
    },
  };
}
