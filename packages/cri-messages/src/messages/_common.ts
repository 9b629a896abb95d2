/** Descriptions of the shared CRI shapes: key-values, mounts, namespaces, security, resources, image specs. */
import type {
  AuthConfig,
  Capability,
  CdiDevice,
  Device,
  HugepageLimit,
  IdMapping,
  ImageSpec,
  Int64Value,
  KeyValue,
  LinuxContainerResources,
  Mount,
  NamespaceOption,
  SELinuxOption,
  SecurityProfile,
  UInt64Value,
  UserNamespace,
  WindowsContainerResources,
} from "@servin/cri-types";
import { MountPropagationEnum, NamespaceModeEnum, ProfileTypeEnum } from "../_enums.js";
import { bool, enumOf, i64, list, map, message, msg, opt, str, u32, u64, wrapped } from "../_schema.js";

export const KeyValueDef = message<KeyValue>("KeyValue", { key: str, value: str });

export const IdMappingDef = message<IdMapping>("IDMapping", { hostId: u32, containerId: u32, length: u32 });

export const ImageSpecDef = message<ImageSpec>("ImageSpec", {
  image: str,
  annotations: opt(map),
  userSpecifiedImage: opt(str),
  runtimeHandler: opt(str),
});

export const MountDef = message<Mount>("Mount", {
  containerPath: str,
  hostPath: str,
  readonly: opt(bool),
  selinuxRelabel: opt(bool),
  propagation: opt(enumOf(MountPropagationEnum)),
  // Spelled uidMappings/gidMappings in the CRI .proto itself; the camelCase is the same.
  uidMappings: opt(list(msg(IdMappingDef))),
  gidMappings: opt(list(msg(IdMappingDef))),
  recursiveReadOnly: opt(bool),
  image: opt(msg(ImageSpecDef)),
  imageSubPath: opt(str),
});

export const DeviceDef = message<Device>("Device", { containerPath: str, hostPath: str, permissions: str });

export const CdiDeviceDef = message<CdiDevice>("CDIDevice", { name: str });

export const UserNamespaceDef = message<UserNamespace>("UserNamespace", {
  mode: enumOf(NamespaceModeEnum),
  uids: opt(list(msg(IdMappingDef))),
  gids: opt(list(msg(IdMappingDef))),
});

export const NamespaceOptionDef = message<NamespaceOption>("NamespaceOption", {
  network: opt(enumOf(NamespaceModeEnum)),
  pid: opt(enumOf(NamespaceModeEnum)),
  ipc: opt(enumOf(NamespaceModeEnum)),
  targetId: opt(str),
  usernsOptions: opt(msg(UserNamespaceDef)),
});

export const Int64ValueDef = message<Int64Value>("Int64Value", { value: wrapped(false) });
export const UInt64ValueDef = message<UInt64Value>("UInt64Value", { value: wrapped(true) });

export const SELinuxOptionDef = message<SELinuxOption>("SELinuxOption", {
  user: opt(str),
  role: opt(str),
  type: opt(str),
  level: opt(str),
});

export const CapabilityDef = message<Capability>("Capability", {
  addCapabilities: opt(list(str)),
  dropCapabilities: opt(list(str)),
  addAmbientCapabilities: opt(list(str)),
});

export const SecurityProfileDef = message<SecurityProfile>("SecurityProfile", {
  profileType: enumOf(ProfileTypeEnum),
  localhostRef: opt(str),
});

export const HugepageLimitDef = message<HugepageLimit>("HugepageLimit", { pageSize: str, limit: u64 });

export const LinuxContainerResourcesDef = message<LinuxContainerResources>("LinuxContainerResources", {
  cpuPeriod: opt(i64),
  cpuQuota: opt(i64),
  cpuShares: opt(i64),
  memoryLimitInBytes: opt(i64),
  oomScoreAdj: opt(i64),
  cpusetCpus: opt(str),
  cpusetMems: opt(str),
  hugepageLimits: opt(list(msg(HugepageLimitDef))),
  unified: opt(map),
  memorySwapLimitInBytes: opt(i64),
});

export const WindowsContainerResourcesDef = message<WindowsContainerResources>("WindowsContainerResources", {
  cpuShares: opt(i64),
  cpuCount: opt(i64),
  cpuMaximum: opt(i64),
  memoryLimitInBytes: opt(i64),
  rootfsSizeInBytes: opt(i64),
});

export const AuthConfigDef = message<AuthConfig>("AuthConfig", {
  username: opt(str),
  password: opt(str),
  auth: opt(str),
  serverAddress: opt(str),
  identityToken: opt(str),
  registryToken: opt(str),
});
