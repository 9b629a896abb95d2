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
  freeMap,
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
import { annotations, argv, DNS_SUBDOMAIN_MAX, envs, labels, maxChars, path, paths } from "./_limits.js";

export const ContainerMetadataDef = message<ContainerMetadata>("ContainerMetadata", {
  // Kubernetes container names are DNS labels (63), but critest v1.26.1 names
  // containers "container-with-SupplementalGroups-and-predefined-group-image-test-"
  // + a UUID (102 characters): the DNS subdomain size lets it through.
  name: maxChars(str, DNS_SUBDOMAIN_MAX),
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
    maskedPaths: paths(opt(list(str))),
    readonlyPaths: paths(opt(list(str))),
    seccomp: opt(msg(SecurityProfileDef)),
    apparmor: opt(msg(SecurityProfileDef)),
    apparmorProfile: opt(str),
    seccompProfilePath: path(opt(str)),
  },
);

export const LinuxContainerConfigDef = message<LinuxContainerConfig>("LinuxContainerConfig", {
  resources: opt(msg(LinuxContainerResourcesDef)),
  securityContext: opt(msg(LinuxContainerSecurityContextDef)),
});

export const ContainerConfigDef = message<ContainerConfig>("ContainerConfig", {
  metadata: msg(ContainerMetadataDef),
  image: msg(ImageSpecDef),
  command: argv(opt(list(str))),
  args: argv(opt(list(str))),
  workingDir: path(opt(str)),
  envs: envs(opt(list(msg(KeyValueDef)))),
  mounts: opt(list(msg(MountDef))),
  devices: opt(list(msg(DeviceDef))),
  labels: labels(opt(map)),
  annotations: annotations(opt(freeMap)),
  logPath: path(opt(str)),
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
  labels: labels(opt(map)),
  annotations: annotations(opt(freeMap)),
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
  labels: labels(opt(map)),
  annotations: annotations(opt(freeMap)),
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
  labelSelector: labels(opt(map)),
});

export const ContainerStatsFilterDef = message<ContainerStatsFilter>("ContainerStatsFilter", {
  id: opt(str),
  podSandboxId: opt(str),
  labelSelector: labels(opt(map)),
});
