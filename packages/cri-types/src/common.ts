/** Shared CRI v1 shapes: key-value maps, mounts, namespaces, security, resources. */

export type StringMap = Record<string, string>;

export interface KeyValue {
  key: string;
  value: string;
}

export type MountPropagation =
  | "PROPAGATION_PRIVATE"
  | "PROPAGATION_HOST_TO_CONTAINER"
  | "PROPAGATION_BIDIRECTIONAL";

export interface IdMapping {
  hostId: number;
  containerId: number;
  length: number;
}

export interface Mount {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
  selinuxRelabel?: boolean;
  propagation?: MountPropagation;
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  recursiveReadOnly?: boolean;
  image?: ImageSpec;
  imageSubPath?: string;
}

export interface Device {
  containerPath: string;
  hostPath: string;
  /** cgroups permissions: any of "r", "w", "m". */
  permissions: string;
}

export interface CdiDevice {
  name: string;
}

/** Where a namespace lives: the pod's, the container's own, the node's, or another container's. */
export type NamespaceMode = "POD" | "CONTAINER" | "NODE" | "TARGET";

export interface UserNamespace {
  mode: NamespaceMode;
  uids?: IdMapping[];
  gids?: IdMapping[];
}

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  targetId?: string;
  usernsOptions?: UserNamespace;
}

export interface Int64Value {
  value: number;
}
export interface UInt64Value {
  value: number;
}

export interface SELinuxOption {
  user?: string;
  role?: string;
  type?: string;
  level?: string;
}

export interface Capability {
  addCapabilities?: string[];
  dropCapabilities?: string[];
  addAmbientCapabilities?: string[];
}

export type SecurityProfileType = "RuntimeDefault" | "Unconfined" | "Localhost";

export interface SecurityProfile {
  profileType: SecurityProfileType;
  localhostRef?: string;
}

export interface HugepageLimit {
  pageSize: string;
  limit: number;
}

export interface LinuxContainerResources {
  cpuPeriod?: number;
  cpuQuota?: number;
  cpuShares?: number;
  memoryLimitInBytes?: number;
  oomScoreAdj?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  hugepageLimits?: HugepageLimit[];
  unified?: StringMap;
  memorySwapLimitInBytes?: number;
}

export interface WindowsContainerResources {
  cpuShares?: number;
  cpuCount?: number;
  cpuMaximum?: number;
  memoryLimitInBytes?: number;
  rootfsSizeInBytes?: number;
}

/** An image reference as the CRI passes it around. */
export interface ImageSpec {
  image: string;
  annotations?: StringMap;
  userSpecifiedImage?: string;
  runtimeHandler?: string;
}

export interface AuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}
