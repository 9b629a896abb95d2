/** CRI v1 stats types for containers and pod sandboxes. */
import type { StringMap, UInt64Value } from "./common.js";
import type { ContainerMetadata } from "./container.js";
import type { UnixNanos } from "./ids.js";
import type { PodSandboxMetadata } from "./sandbox.js";

export interface ContainerAttributes {
  id: string;
  metadata: ContainerMetadata;
  labels?: StringMap;
  annotations?: StringMap;
}

export interface CpuUsage {
  timestamp: UnixNanos;
  usageCoreNanoSeconds?: UInt64Value;
  usageNanoCores?: UInt64Value;
}

export interface MemoryUsage {
  timestamp: UnixNanos;
  workingSetBytes?: UInt64Value;
  availableBytes?: UInt64Value;
  usageBytes?: UInt64Value;
  rssBytes?: UInt64Value;
  pageFaults?: UInt64Value;
  majorPageFaults?: UInt64Value;
}

export interface FilesystemIdentifier {
  mountpoint: string;
}

export interface FilesystemUsage {
  timestamp: UnixNanos;
  fsId?: FilesystemIdentifier;
  usedBytes?: UInt64Value;
  inodesUsed?: UInt64Value;
}

export interface SwapUsage {
  timestamp: UnixNanos;
  swapAvailableBytes?: UInt64Value;
  swapUsageBytes?: UInt64Value;
}

export interface ContainerStats {
  attributes: ContainerAttributes;
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  writableLayer?: FilesystemUsage;
  swap?: SwapUsage;
}

export interface PodSandboxAttributes {
  id: string;
  metadata: PodSandboxMetadata;
  labels?: StringMap;
  annotations?: StringMap;
}

export interface NetworkInterfaceUsage {
  name: string;
  rxBytes?: UInt64Value;
  rxErrors?: UInt64Value;
  txBytes?: UInt64Value;
  txErrors?: UInt64Value;
}

export interface NetworkUsage {
  timestamp: UnixNanos;
  defaultInterface?: NetworkInterfaceUsage;
  interfaces?: NetworkInterfaceUsage[];
}

export interface ProcessUsage {
  timestamp: UnixNanos;
  processCount?: UInt64Value;
}

export interface LinuxPodSandboxStats {
  cpu?: CpuUsage;
  memory?: MemoryUsage;
  network?: NetworkUsage;
  process?: ProcessUsage;
  containers?: ContainerStats[];
}

export interface PodSandboxStats {
  attributes: PodSandboxAttributes;
  linux?: LinuxPodSandboxStats;
}

export interface Metric {
  name: string;
  timestamp: UnixNanos;
  metricType: "COUNTER" | "GAUGE";
  labelValues: string[];
  value?: UInt64Value;
}

export interface ContainerMetrics {
  containerId: string;
  metrics: Metric[];
}

export interface PodSandboxMetrics {
  podSandboxId: string;
  metrics: Metric[];
  containerMetrics: ContainerMetrics[];
}

export interface MetricDescriptor {
  name: string;
  help: string;
  labelKeys: string[];
}
