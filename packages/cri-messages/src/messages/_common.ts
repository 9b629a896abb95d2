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
import {
  bool,
  enumOf,
  freeMap,
  i64,
  list,
  map,
  message,
  msg,
  opt,
  str,
  u32,
  u64,
  wrapped,
} from "../_schema.js";
import { annotations, cgroupFiles, cpuset, MEMORY_LIMIT_MIN, oneOfRanges, path } from "./_limits.js";

export const KeyValueDef = message<KeyValue>("KeyValue", { key: str, value: str });

export const IdMappingDef = message<IdMapping>("IDMapping", { hostId: u32, containerId: u32, length: u32 });

export const ImageSpecDef = message<ImageSpec>("ImageSpec", {
  image: str,
  annotations: annotations(opt(freeMap)),
  userSpecifiedImage: opt(str),
  runtimeHandler: opt(str),
});

export const MountDef = message<Mount>("Mount", {
  containerPath: path(str),
  hostPath: path(str),
  readonly: opt(bool),
  selinuxRelabel: opt(bool),
  propagation: opt(enumOf(MountPropagationEnum)),
  // Spelled uidMappings/gidMappings in the CRI .proto itself; the camelCase is the same.
  uidMappings: opt(list(msg(IdMappingDef))),
  gidMappings: opt(list(msg(IdMappingDef))),
  recursiveReadOnly: opt(bool),
  image: opt(msg(ImageSpecDef)),
  imageSubPath: path(opt(str)),
});

export const DeviceDef = message<Device>("Device", {
  containerPath: path(str),
  hostPath: path(str),
  permissions: str,
});

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
  localhostRef: path(opt(str)),
});

export const HugepageLimitDef = message<HugepageLimit>("HugepageLimit", { pageSize: str, limit: u64 });

export const LinuxContainerResourcesDef = message<LinuxContainerResources>("LinuxContainerResources", {
  // The kernel's CFS bandwidth rules (kernel/sched/core.c): a period of 1 ms to 1 s,
  // a quota of at least 1 ms and below 2^44 µs, or -1 for none. 0 is "not set".
  cpuPeriod: oneOfRanges(opt(i64), [[1000, 1_000_000]], "expected 0 or 1000..1000000 (µs)"),
  cpuQuota: oneOfRanges(
    opt(i64),
    [
      [-1, -1],
      [1000, 2 ** 44 - 1],
    ],
    "expected -1, 0 or 1000..17592186044415 (µs)",
  ),
  // cgroup v1 cpu.shares takes 2..262144 (runc maps the same range onto v2's cpu.weight).
  cpuShares: oneOfRanges(opt(i64), [[2, 262_144]], "expected 0 or 2..262144"),
  // -1 is "no limit"; below CRI-O's minimum, runc fails (or the kernel OOM-kills at once).
  memoryLimitInBytes: oneOfRanges(
    opt(i64),
    [
      [-1, -1],
      [MEMORY_LIMIT_MIN, Number.MAX_SAFE_INTEGER * 1024],
    ],
    `expected -1, 0 or at least ${MEMORY_LIMIT_MIN} bytes`,
  ),
  oomScoreAdj: oneOfRanges(opt(i64), [[-1000, 1000]], "expected -1000..1000"),
  cpusetCpus: cpuset(opt(str)),
  cpusetMems: cpuset(opt(str)),
  hugepageLimits: opt(list(msg(HugepageLimitDef))),
  unified: cgroupFiles(opt(map)),
  memorySwapLimitInBytes: oneOfRanges(
    opt(i64),
    [
      [-1, -1],
      [MEMORY_LIMIT_MIN, Number.MAX_SAFE_INTEGER * 1024],
    ],
    `expected -1, 0 or at least ${MEMORY_LIMIT_MIN} bytes`,
  ),
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
