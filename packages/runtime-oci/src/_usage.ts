/** CPU and memory usage in the CRI's terms (cAdvisor's definitions, as kubelet expects) from a cgroup sample. */
import type { CpuUsage, MemoryUsage, UnixNanos } from "@servin/cri-types";
import type { CgroupSample } from "./_cgroups.js";
import type { OciContext } from "./_context.js";

/** Cumulative CPU, plus the rate since the previous sample of the same object (usage_nano_cores). */
export function cpuUsage(ctx: OciContext, id: string, sample: CgroupSample, at: UnixNanos): CpuUsage {
  const out: CpuUsage = { timestamp: at };
  if (sample.cpuUsageNs === undefined) return out;
  out.usageCoreNanoSeconds = { value: Number(sample.cpuUsageNs) };
  const prev = ctx.cpuSamples.get(id);
  if (prev && at > prev.at && sample.cpuUsageNs >= prev.usage) {
    const rate = ((sample.cpuUsageNs - prev.usage) * 1_000_000_000n) / (at - prev.at);
    out.usageNanoCores = { value: Number(rate) };
  }
  ctx.cpuSamples.set(id, { usage: sample.cpuUsageNs, at });
  return out;
}

export function memoryUsage(sample: CgroupSample, at: UnixNanos): MemoryUsage {
  const out: MemoryUsage = { timestamp: at };
  if (sample.workingSet !== undefined) out.workingSetBytes = { value: sample.workingSet };
  if (sample.memoryUsage !== undefined) out.usageBytes = { value: sample.memoryUsage };
  if (sample.rss !== undefined) out.rssBytes = { value: sample.rss };
  if (sample.pageFaults !== undefined) out.pageFaults = { value: sample.pageFaults };
  if (sample.majorPageFaults !== undefined) out.majorPageFaults = { value: sample.majorPageFaults };
  if (sample.limit !== undefined && sample.workingSet !== undefined) {
    out.availableBytes = { value: Math.max(0, sample.limit - sample.workingSet) };
  }
  return out;
}
