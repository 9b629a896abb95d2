/** Descriptions of the CRI stats and metrics messages for containers and pod sandboxes. */
import type {
  ContainerAttributes,
  ContainerMetrics,
  ContainerStats,
  CpuUsage,
  FilesystemIdentifier,
  FilesystemUsage,
  LinuxPodSandboxStats,
  MemoryUsage,
  Metric,
  MetricDescriptor,
  NetworkInterfaceUsage,
  NetworkUsage,
  PodSandboxAttributes,
  PodSandboxMetrics,
  PodSandboxStats,
  ProcessUsage,
  SwapUsage,
} from "@servin/cri-types";
import { MetricTypeEnum } from "../_enums.js";
import { enumOf, list, map, message, msg, opt, str, timestamp } from "../_schema.js";
import { UInt64ValueDef } from "./_common.js";
import { ContainerMetadataDef } from "./_container.js";
import { PodSandboxMetadataDef } from "./_sandbox.js";

const u64v = opt(msg(UInt64ValueDef));

export const ContainerAttributesDef = message<ContainerAttributes>("ContainerAttributes", {
  id: str,
  metadata: msg(ContainerMetadataDef),
  labels: opt(map),
  annotations: opt(map),
});

export const CpuUsageDef = message<CpuUsage>("CpuUsage", {
  timestamp,
  usageCoreNanoSeconds: u64v,
  usageNanoCores: u64v,
});

export const MemoryUsageDef = message<MemoryUsage>("MemoryUsage", {
  timestamp,
  workingSetBytes: u64v,
  availableBytes: u64v,
  usageBytes: u64v,
  rssBytes: u64v,
  pageFaults: u64v,
  majorPageFaults: u64v,
});

export const FilesystemIdentifierDef = message<FilesystemIdentifier>("FilesystemIdentifier", {
  mountpoint: str,
});

export const FilesystemUsageDef = message<FilesystemUsage>("FilesystemUsage", {
  timestamp,
  fsId: opt(msg(FilesystemIdentifierDef)),
  usedBytes: u64v,
  inodesUsed: u64v,
});

export const SwapUsageDef = message<SwapUsage>("SwapUsage", {
  timestamp,
  swapAvailableBytes: u64v,
  swapUsageBytes: u64v,
});

export const ContainerStatsDef = message<ContainerStats>("ContainerStats", {
  attributes: msg(ContainerAttributesDef),
  cpu: opt(msg(CpuUsageDef)),
  memory: opt(msg(MemoryUsageDef)),
  writableLayer: opt(msg(FilesystemUsageDef)),
  swap: opt(msg(SwapUsageDef)),
});

export const PodSandboxAttributesDef = message<PodSandboxAttributes>("PodSandboxAttributes", {
  id: str,
  metadata: msg(PodSandboxMetadataDef),
  labels: opt(map),
  annotations: opt(map),
});

export const NetworkInterfaceUsageDef = message<NetworkInterfaceUsage>("NetworkInterfaceUsage", {
  name: str,
  rxBytes: u64v,
  rxErrors: u64v,
  txBytes: u64v,
  txErrors: u64v,
});

export const NetworkUsageDef = message<NetworkUsage>("NetworkUsage", {
  timestamp,
  defaultInterface: opt(msg(NetworkInterfaceUsageDef)),
  interfaces: opt(list(msg(NetworkInterfaceUsageDef))),
});

export const ProcessUsageDef = message<ProcessUsage>("ProcessUsage", { timestamp, processCount: u64v });

export const LinuxPodSandboxStatsDef = message<LinuxPodSandboxStats>("LinuxPodSandboxStats", {
  cpu: opt(msg(CpuUsageDef)),
  memory: opt(msg(MemoryUsageDef)),
  network: opt(msg(NetworkUsageDef)),
  process: opt(msg(ProcessUsageDef)),
  containers: opt(list(msg(ContainerStatsDef))),
});

export const PodSandboxStatsDef = message<PodSandboxStats>("PodSandboxStats", {
  attributes: msg(PodSandboxAttributesDef),
  linux: opt(msg(LinuxPodSandboxStatsDef)),
});

export const MetricDef = message<Metric>("Metric", {
  name: str,
  timestamp,
  metricType: enumOf(MetricTypeEnum),
  labelValues: list(str),
  value: u64v,
});

export const ContainerMetricsDef = message<ContainerMetrics>("ContainerMetrics", {
  containerId: str,
  metrics: list(msg(MetricDef)),
});

export const PodSandboxMetricsDef = message<PodSandboxMetrics>("PodSandboxMetrics", {
  podSandboxId: str,
  metrics: list(msg(MetricDef)),
  containerMetrics: list(msg(ContainerMetricsDef)),
});

export const MetricDescriptorDef = message<MetricDescriptor>("MetricDescriptor", {
  name: str,
  help: str,
  labelKeys: list(str),
});
