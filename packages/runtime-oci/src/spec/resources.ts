/** CRI LinuxContainerResources → OCI linux.resources (cgroup limits). */
import type { LinuxContainerResources } from "@servin/cri-types";
import type { OciLinuxResources } from "./types.js";

export type CgroupMode = "v1" | "hybrid" | "v2";

/**
 * Zero means "unset" in the CRI, so zero values are left out. `unified` only
 * exists on a pure cgroup v2 host: runc rejects it otherwise, so it is dropped
 * on v1/hybrid hosts (the caller logs that).
 *
 * @example
 * toOciResources({ cpuShares: 512, memoryLimitInBytes: 64 << 20 }, "v1");
 * // { cpu: { shares: 512 }, memory: { limit: 67108864 } }
 */
export function toOciResources(r: LinuxContainerResources | undefined, mode: CgroupMode): OciLinuxResources {
  const out: OciLinuxResources = {};
  if (!r) return out;
  const cpu: NonNullable<OciLinuxResources["cpu"]> = {};
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.cpuQuota) cpu.quota = r.cpuQuota;
  if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  const memory: NonNullable<OciLinuxResources["memory"]> = {};
  if (r.memoryLimitInBytes) memory.limit = r.memoryLimitInBytes;
  if (r.memorySwapLimitInBytes) memory.swap = r.memorySwapLimitInBytes;
  if (Object.keys(memory).length > 0) out.memory = memory;
  if (r.hugepageLimits && r.hugepageLimits.length > 0) {
    out.hugepageLimits = r.hugepageLimits.map((h) => ({ pageSize: h.pageSize, limit: h.limit }));
  }
  if (mode === "v2" && r.unified && Object.keys(r.unified).length > 0) out.unified = { ...r.unified };
  return out;
}

/**
 * oom_score_adj for the container process, clamped to [0, 1000]. Negative
 * values need CAP_SYS_RESOURCE, which Servin's hosts do not have: runc would
 * fail the whole create on the write, so we clamp at 0 (the kubelet only asks
 * for negative values for critical/guaranteed pods; they lose that protection).
 *
 * @example
 * clampOomScoreAdj(-998); // 0
 */
export function clampOomScoreAdj(value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  return Math.min(1000, Math.max(0, Math.trunc(value)));
}
