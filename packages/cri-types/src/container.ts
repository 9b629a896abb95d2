/** CRI v1 container types: config, state, status, list filters. */
import type {
  Capability,
  CdiDevice,
  Device,
  ImageSpec,
  Int64Value,
  KeyValue,
  LinuxContainerResources,
  Mount,
  NamespaceOption,
  SELinuxOption,
  SecurityProfile,
  StringMap,
  WindowsContainerResources,
} from "./common.js";
import type { ContainerId, SandboxId, UnixNanos } from "./ids.js";

export interface ContainerMetadata {
  name: string;
  attempt?: number;
}

export interface LinuxContainerSecurityContext {
  capabilities?: Capability;
  privileged?: boolean;
  namespaceOptions?: NamespaceOption;
  selinuxOptions?: SELinuxOption;
  runAsUser?: Int64Value;
  runAsGroup?: Int64Value;
  runAsUsername?: string;
  readonlyRootfs?: boolean;
  supplementalGroups?: number[];
  supplementalGroupsPolicy?: "Merge" | "Strict";
  noNewPrivs?: boolean;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: SecurityProfile;
  apparmor?: SecurityProfile;
  apparmorProfile?: string;
  seccompProfilePath?: string;
}

export interface LinuxContainerConfig {
  resources?: LinuxContainerResources;
  securityContext?: LinuxContainerSecurityContext;
}

export interface ContainerConfig {
  metadata: ContainerMetadata;
  image: ImageSpec;
  command?: string[];
  args?: string[];
  workingDir?: string;
  envs?: KeyValue[];
  mounts?: Mount[];
  devices?: Device[];
  labels?: StringMap;
  annotations?: StringMap;
  /** Relative to the sandbox's log_directory. */
  logPath?: string;
  stdin?: boolean;
  stdinOnce?: boolean;
  tty?: boolean;
  linux?: LinuxContainerConfig;
  cdiDevices?: CdiDevice[];
  stopSignal?: Signal;
}

export type Signal = string;

export type ContainerState =
  | "CONTAINER_CREATED"
  | "CONTAINER_RUNNING"
  | "CONTAINER_EXITED"
  | "CONTAINER_UNKNOWN";

/** One entry of ListContainers. */
export interface Container {
  id: ContainerId;
  podSandboxId: SandboxId;
  metadata: ContainerMetadata;
  image: ImageSpec;
  /** The image ID (containerd) the container was created from. */
  imageRef: string;
  state: ContainerState;
  createdAt: UnixNanos;
  labels?: StringMap;
  annotations?: StringMap;
  imageId?: string;
}

export interface ContainerResources {
  linux?: LinuxContainerResources;
  windows?: WindowsContainerResources;
}

export interface ContainerUser {
  linux?: { uid: number; gid: number; supplementalGroups?: number[] };
}

export interface ContainerStatus {
  id: ContainerId;
  metadata: ContainerMetadata;
  state: ContainerState;
  createdAt: UnixNanos;
  /** 0 when not started. */
  startedAt: UnixNanos;
  /** 0 when not finished. */
  finishedAt: UnixNanos;
  exitCode: number;
  image: ImageSpec;
  imageRef: string;
  /** Brief CamelCase reason: Completed, Error, OOMKilled, ContainerCannotRun. */
  reason?: string;
  message?: string;
  labels?: StringMap;
  annotations?: StringMap;
  mounts?: Mount[];
  logPath?: string;
  resources?: ContainerResources;
  imageId?: string;
  user?: ContainerUser;
  stopSignal?: Signal;
}

export interface ContainerStateValue {
  state: ContainerState;
}

export interface ContainerFilter {
  /** A full ID or a unique prefix. */
  id?: string;
  state?: ContainerStateValue;
  podSandboxId?: string;
  labelSelector?: StringMap;
}

export interface ContainerStatsFilter {
  id?: string;
  podSandboxId?: string;
  labelSelector?: StringMap;
}
