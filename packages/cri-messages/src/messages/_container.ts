/** Descriptions of the CRI container messages: config, security context, list entries, status, filters. */
import type {
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerMetadata,
  ContainerResources,
  ContainerStateValue,
  ContainerStatsFilter,
  ContainerStatus,
  ContainerUser,
  LinuxContainerConfig,
  LinuxContainerSecurityContext,
} from "@servin/cri-types";
import { ContainerStateEnum, SignalEnum, SupplementalGroupsPolicyEnum } from "../_enums.js";
import {
  bool,
  enumOf,
  i32,
  i64,
  list,
  map,
  message,
  msg,
  opt,
  protoNamed,
  str,
  timestamp,
  u32,
} from "../_schema.js";
import {
  CapabilityDef,
  CdiDeviceDef,
  DeviceDef,
  ImageSpecDef,
  Int64ValueDef,
  KeyValueDef,
  LinuxContainerResourcesDef,
  MountDef,
  NamespaceOptionDef,
  SELinuxOptionDef,
  SecurityProfileDef,
  WindowsContainerResourcesDef,
} from "./_common.js";

export const ContainerMetadataDef = message<ContainerMetadata>("ContainerMetadata", {
  name: str,
  attempt: opt(u32),
});

export const LinuxContainerSecurityContextDef = message<LinuxContainerSecurityContext>(
  "LinuxContainerSecurityContext",
  {
    capabilities: opt(msg(CapabilityDef)),
    privileged: opt(bool),
    namespaceOptions: opt(msg(NamespaceOptionDef)),
    selinuxOptions: opt(msg(SELinuxOptionDef)),
    runAsUser: opt(msg(Int64ValueDef)),
    runAsGroup: opt(msg(Int64ValueDef)),
    runAsUsername: opt(str),
    readonlyRootfs: opt(bool),
    supplementalGroups: opt(list(i64)),
    supplementalGroupsPolicy: opt(enumOf(SupplementalGroupsPolicyEnum)),
    noNewPrivs: opt(bool),
    maskedPaths: opt(list(str)),
    readonlyPaths: opt(list(str)),
    seccomp: opt(msg(SecurityProfileDef)),
    apparmor: opt(msg(SecurityProfileDef)),
    apparmorProfile: opt(str),
    seccompProfilePath: opt(str),
  },
);

export const LinuxContainerConfigDef = message<LinuxContainerConfig>("LinuxContainerConfig", {
  resources: opt(msg(LinuxContainerResourcesDef)),
  securityContext: opt(msg(LinuxContainerSecurityContextDef)),
});

export const ContainerConfigDef = message<ContainerConfig>("ContainerConfig", {
  metadata: msg(ContainerMetadataDef),
  image: msg(ImageSpecDef),
  command: opt(list(str)),
  args: opt(list(str)),
  workingDir: opt(str),
  envs: opt(list(msg(KeyValueDef))),
  mounts: opt(list(msg(MountDef))),
  devices: opt(list(msg(DeviceDef))),
  labels: opt(map),
  annotations: opt(map),
  logPath: opt(str),
  stdin: opt(bool),
  stdinOnce: opt(bool),
  tty: opt(bool),
  linux: opt(msg(LinuxContainerConfigDef)),
  // The CRI spells this field CDI_devices; protobufjs camelCases it to CDIDevices.
  cdiDevices: protoNamed("CDI_devices", opt(list(msg(CdiDeviceDef)))),
  stopSignal: opt(enumOf(SignalEnum)),
});

export const ContainerDef = message<Container>("Container", {
  id: str,
  podSandboxId: str,
  metadata: msg(ContainerMetadataDef),
  image: msg(ImageSpecDef),
  imageRef: str,
  state: enumOf(ContainerStateEnum),
  createdAt: timestamp,
  labels: opt(map),
  annotations: opt(map),
  imageId: opt(str),
});

export const ContainerResourcesDef = message<ContainerResources>("ContainerResources", {
  linux: opt(msg(LinuxContainerResourcesDef)),
  windows: opt(msg(WindowsContainerResourcesDef)),
});

export const LinuxContainerUserDef = message<NonNullable<ContainerUser["linux"]>>("LinuxContainerUser", {
  uid: i64,
  gid: i64,
  supplementalGroups: opt(list(i64)),
});

export const ContainerUserDef = message<ContainerUser>("ContainerUser", {
  linux: opt(msg(LinuxContainerUserDef)),
});

export const ContainerStatusDef = message<ContainerStatus>("ContainerStatus", {
  id: str,
  metadata: msg(ContainerMetadataDef),
  state: enumOf(ContainerStateEnum),
  createdAt: timestamp,
  startedAt: timestamp,
  finishedAt: timestamp,
  exitCode: i32,
  image: msg(ImageSpecDef),
  imageRef: str,
  reason: opt(str),
  message: opt(str),
  labels: opt(map),
  annotations: opt(map),
  mounts: opt(list(msg(MountDef))),
  logPath: opt(str),
  resources: opt(msg(ContainerResourcesDef)),
  imageId: opt(str),
  user: opt(msg(ContainerUserDef)),
  stopSignal: opt(enumOf(SignalEnum)),
});

export const ContainerStateValueDef = message<ContainerStateValue>("ContainerStateValue", {
  state: enumOf(ContainerStateEnum),
});

export const ContainerFilterDef = message<ContainerFilter>("ContainerFilter", {
  id: opt(str),
  state: opt(msg(ContainerStateValueDef)),
  podSandboxId: opt(str),
  labelSelector: opt(map),
});

export const ContainerStatsFilterDef = message<ContainerStatsFilter>("ContainerStatsFilter", {
  id: opt(str),
  podSandboxId: opt(str),
  labelSelector: opt(map),
});
