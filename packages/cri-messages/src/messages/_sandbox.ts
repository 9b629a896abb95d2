/** Descriptions of the CRI pod sandbox messages: config, status, list entries, filters. */
import type {
  DnsConfig,
  LinuxPodSandboxConfig,
  LinuxPodSandboxStatus,
  LinuxSandboxSecurityContext,
  Namespace,
  PodIP,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxMetadata,
  PodSandboxNetworkStatus,
  PodSandboxStateValue,
  PodSandboxStatsFilter,
  PodSandboxStatus,
  PortMapping,
} from "@servin/cri-types";
import { PodSandboxStateEnum, ProtocolEnum } from "../_enums.js";
import {
  bool,
  enumOf,
  freeMap,
  i32,
  i64,
  list,
  map,
  message,
  msg,
  opt,
  str,
  timestamp,
  u32,
} from "../_schema.js";
import {
  CapabilityDef,
  Int64ValueDef,
  LinuxContainerResourcesDef,
  NamespaceOptionDef,
  SELinuxOptionDef,
  SecurityProfileDef,
} from "./_common.js";
import {
  annotations,
  DNS_LABEL_MAX,
  DNS_SUBDOMAIN_MAX,
  labels,
  maxChars,
  path,
  resolvEntries,
} from "./_limits.js";

export const PodSandboxMetadataDef = message<PodSandboxMetadata>("PodSandboxMetadata", {
  // Kubernetes: a pod name is a DNS subdomain, a namespace a DNS label; critest
  // v1.26.1 keeps to both sizes (names up to 95 characters, namespaces 54).
  name: maxChars(str, DNS_SUBDOMAIN_MAX),
  // Kubernetes UIDs are 36-character UUIDs (static pods: 32 hex digits); critest sends 48.
  uid: maxChars(opt(str), DNS_SUBDOMAIN_MAX),
  namespace: maxChars(opt(str), DNS_LABEL_MAX),
  attempt: opt(u32),
});

export const PortMappingDef = message<PortMapping>("PortMapping", {
  protocol: opt(enumOf(ProtocolEnum)),
  containerPort: opt(i32),
  hostPort: opt(i32),
  hostIp: opt(str),
});

export const DnsConfigDef = message<DnsConfig>("DNSConfig", {
  servers: resolvEntries(opt(list(str))),
  searches: resolvEntries(opt(list(str))),
  options: resolvEntries(opt(list(str))),
});

export const LinuxSandboxSecurityContextDef = message<LinuxSandboxSecurityContext>(
  "LinuxSandboxSecurityContext",
  {
    namespaceOptions: opt(msg(NamespaceOptionDef)),
    selinuxOptions: opt(msg(SELinuxOptionDef)),
    runAsUser: opt(msg(Int64ValueDef)),
    runAsGroup: opt(msg(Int64ValueDef)),
    readonlyRootfs: opt(bool),
    supplementalGroups: opt(list(i64)),
    privileged: opt(bool),
    seccomp: opt(msg(SecurityProfileDef)),
    apparmor: opt(msg(SecurityProfileDef)),
    seccompProfilePath: path(opt(str)),
    capabilities: opt(msg(CapabilityDef)),
  },
);

export const LinuxPodSandboxConfigDef = message<LinuxPodSandboxConfig>("LinuxPodSandboxConfig", {
  cgroupParent: path(opt(str)),
  securityContext: opt(msg(LinuxSandboxSecurityContextDef)),
  sysctls: opt(map),
  overhead: opt(msg(LinuxContainerResourcesDef)),
  resources: opt(msg(LinuxContainerResourcesDef)),
});

export const PodSandboxConfigDef = message<PodSandboxConfig>("PodSandboxConfig", {
  metadata: msg(PodSandboxMetadataDef),
  hostname: opt(str),
  logDirectory: path(opt(str)),
  dnsConfig: opt(msg(DnsConfigDef)),
  portMappings: opt(list(msg(PortMappingDef))),
  labels: labels(opt(map)),
  annotations: annotations(opt(freeMap)),
  linux: opt(msg(LinuxPodSandboxConfigDef)),
});

export const PodIpDef = message<PodIP>("PodIP", { ip: str });

export const PodSandboxNetworkStatusDef = message<PodSandboxNetworkStatus>("PodSandboxNetworkStatus", {
  ip: opt(str),
  additionalIps: opt(list(msg(PodIpDef))),
});

export const NamespaceDef = message<Namespace>("Namespace", { options: opt(msg(NamespaceOptionDef)) });

export const LinuxPodSandboxStatusDef = message<LinuxPodSandboxStatus>("LinuxPodSandboxStatus", {
  namespaces: opt(msg(NamespaceDef)),
});

export const PodSandboxStatusDef = message<PodSandboxStatus>("PodSandboxStatus", {
  id: str,
  metadata: msg(PodSandboxMetadataDef),
  state: enumOf(PodSandboxStateEnum),
  createdAt: timestamp,
  network: opt(msg(PodSandboxNetworkStatusDef)),
  linux: opt(msg(LinuxPodSandboxStatusDef)),
  labels: labels(opt(map)),
  annotations: annotations(opt(freeMap)),
  runtimeHandler: opt(str),
});

export const PodSandboxDef = message<PodSandbox>("PodSandbox", {
  id: str,
  metadata: msg(PodSandboxMetadataDef),
  state: enumOf(PodSandboxStateEnum),
  createdAt: timestamp,
  labels: labels(opt(map)),
  annotations: annotations(opt(freeMap)),
  runtimeHandler: opt(str),
});

export const PodSandboxStateValueDef = message<PodSandboxStateValue>("PodSandboxStateValue", {
  state: enumOf(PodSandboxStateEnum),
});

export const PodSandboxFilterDef = message<PodSandboxFilter>("PodSandboxFilter", {
  id: opt(str),
  state: opt(msg(PodSandboxStateValueDef)),
  labelSelector: labels(opt(map)),
});

export const PodSandboxStatsFilterDef = message<PodSandboxStatsFilter>("PodSandboxStatsFilter", {
  id: opt(str),
  labelSelector: labels(opt(map)),
});
