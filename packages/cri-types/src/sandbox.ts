/** CRI v1 pod sandbox types: config, state, status, list filters and requests. */
import type {
  Capability,
  Int64Value,
  LinuxContainerResources,
  NamespaceOption,
  SELinuxOption,
  SecurityProfile,
  StringMap,
} from "./common.js";
import type { SandboxId, UnixNanos } from "./ids.js";

export interface PodSandboxMetadata {
  name: string;
  uid?: string;
  namespace?: string;
  attempt?: number;
}

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface PortMapping {
  protocol?: Protocol;
  containerPort?: number;
  hostPort?: number;
  hostIp?: string;
}

export interface DnsConfig {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

export interface LinuxSandboxSecurityContext {
  namespaceOptions?: NamespaceOption;
  selinuxOptions?: SELinuxOption;
  runAsUser?: Int64Value;
  runAsGroup?: Int64Value;
  readonlyRootfs?: boolean;
  supplementalGroups?: number[];
  privileged?: boolean;
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
  seccompProfilePath?: string;
  capabilities?: Capability;
}

export interface LinuxPodSandboxConfig {
  cgroupParent?: string;
  securityContext?: LinuxSandboxSecurityContext;
  sysctls?: StringMap;
  overhead?: LinuxContainerResources;
  resources?: LinuxContainerResources;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  logDirectory?: string;
  dnsConfig?: DnsConfig;
  portMappings?: PortMapping[];
  labels?: StringMap;
  annotations?: StringMap;
  linux?: LinuxPodSandboxConfig;
}

export type PodSandboxState = "SANDBOX_READY" | "SANDBOX_NOTREADY";

export interface PodIP {
  ip: string;
}

export interface PodSandboxNetworkStatus {
  ip?: string;
  additionalIps?: PodIP[];
}

export interface Namespace {
  options?: NamespaceOption;
}

export interface LinuxPodSandboxStatus {
  namespaces?: Namespace;
}

export interface PodSandboxStatus {
  id: SandboxId;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  createdAt: UnixNanos;
  network?: PodSandboxNetworkStatus;
  linux?: LinuxPodSandboxStatus;
  labels?: StringMap;
  annotations?: StringMap;
  runtimeHandler?: string;
}

/** One entry of ListPodSandbox. */
export interface PodSandbox {
  id: SandboxId;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  createdAt: UnixNanos;
  labels?: StringMap;
  annotations?: StringMap;
  runtimeHandler?: string;
}

export interface PodSandboxStateValue {
  state: PodSandboxState;
}

export interface PodSandboxFilter {
  /** A full ID or a unique prefix. */
  id?: string;
  state?: PodSandboxStateValue;
  labelSelector?: StringMap;
}

export interface PodSandboxStatsFilter {
  id?: string;
  labelSelector?: StringMap;
}
