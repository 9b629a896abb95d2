/** Descriptions of the request and response of every RuntimeService and ImageService RPC. */
import type {
  AttachRequest,
  CheckpointContainerRequest,
  ContainerEventResponse,
  ContainerStatsRequest,
  ContainerStatsResponse,
  ContainerStatusRequest,
  ContainerStatusResponse,
  CreateContainerRequest,
  CreateContainerResponse,
  Empty,
  ExecRequest,
  ExecSyncRequest,
  ExecSyncResponse,
  GetEventsRequest,
  ImageFsInfoResponse,
  ImageStatusRequest,
  ImageStatusResponse,
  ListContainerStatsRequest,
  ListContainerStatsResponse,
  ListContainersRequest,
  ListContainersResponse,
  ListImagesRequest,
  ListImagesResponse,
  ListMetricDescriptorsResponse,
  ListPodSandboxMetricsResponse,
  ListPodSandboxRequest,
  ListPodSandboxResponse,
  ListPodSandboxStatsRequest,
  ListPodSandboxStatsResponse,
  NetworkConfig,
  PodSandboxStatsRequest,
  PodSandboxStatsResponse,
  PodSandboxStatusRequest,
  PodSandboxStatusResponse,
  PortForwardRequest,
  PullImageRequest,
  PullImageResponse,
  RemoveContainerRequest,
  RemoveImageRequest,
  RemovePodSandboxRequest,
  ReopenContainerLogRequest,
  RunPodSandboxRequest,
  RunPodSandboxResponse,
  RuntimeCondition,
  RuntimeConfig,
  RuntimeConfigResponse,
  RuntimeFeatures,
  RuntimeHandler,
  RuntimeHandlerFeatures,
  RuntimeStatus,
  StartContainerRequest,
  StatusRequest,
  StatusResponse,
  StopContainerRequest,
  StopPodSandboxRequest,
  StreamingUrlResponse,
  UpdateContainerResourcesRequest,
  UpdateRuntimeConfigRequest,
  VersionRequest,
  VersionResponse,
} from "@servin/cri-types";
import { CgroupDriverEnum, ContainerEventTypeEnum } from "../_enums.js";
import {
  bool,
  bytes,
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
} from "../_schema.js";
import {
  AuthConfigDef,
  ImageSpecDef,
  LinuxContainerResourcesDef,
  WindowsContainerResourcesDef,
} from "./_common.js";
import {
  ContainerConfigDef,
  ContainerDef,
  ContainerFilterDef,
  ContainerStatsFilterDef,
  ContainerStatusDef,
} from "./_container.js";
import { ImageDef, ImageFilterDef } from "./_image.js";
import { annotations, argv } from "./_limits.js";
import {
  PodSandboxConfigDef,
  PodSandboxDef,
  PodSandboxFilterDef,
  PodSandboxStatsFilterDef,
  PodSandboxStatusDef,
} from "./_sandbox.js";
import {
  ContainerStatsDef,
  FilesystemUsageDef,
  MetricDescriptorDef,
  PodSandboxMetricsDef,
  PodSandboxStatsDef,
} from "./_stats.js";

// ---- shared ----

export const EmptyDef = message<Empty>("Empty", {});
export const GetEventsRequestDef = message<GetEventsRequest>("GetEventsRequest", {});
export const StreamingUrlResponseDef = message<StreamingUrlResponse>("StreamingUrlResponse", { url: str });

// ---- runtime: version, status, config ----

export const VersionRequestDef = message<VersionRequest>("VersionRequest", { version: opt(str) });
export const VersionResponseDef = message<VersionResponse>("VersionResponse", {
  version: str,
  runtimeName: str,
  runtimeVersion: str,
  runtimeApiVersion: str,
});

export const RuntimeConditionDef = message<RuntimeCondition>("RuntimeCondition", {
  type: str,
  status: bool,
  reason: str,
  message: str,
});
export const RuntimeStatusDef = message<RuntimeStatus>("RuntimeStatus", {
  conditions: list(msg(RuntimeConditionDef)),
});
export const RuntimeHandlerFeaturesDef = message<RuntimeHandlerFeatures>("RuntimeHandlerFeatures", {
  recursiveReadOnlyMounts: opt(bool),
  userNamespaces: opt(bool),
});
export const RuntimeHandlerDef = message<RuntimeHandler>("RuntimeHandler", {
  name: str,
  features: opt(msg(RuntimeHandlerFeaturesDef)),
});
export const RuntimeFeaturesDef = message<RuntimeFeatures>("RuntimeFeatures", {
  supplementalGroupsPolicy: opt(bool),
});
export const StatusRequestDef = message<StatusRequest>("StatusRequest", { verbose: opt(bool) });
export const StatusResponseDef = message<StatusResponse>("StatusResponse", {
  status: msg(RuntimeStatusDef),
  info: opt(map),
  runtimeHandlers: opt(list(msg(RuntimeHandlerDef))),
  features: opt(msg(RuntimeFeaturesDef)),
});

export const LinuxRuntimeConfigurationDef = message<NonNullable<RuntimeConfigResponse["linux"]>>(
  "LinuxRuntimeConfiguration",
  { cgroupDriver: enumOf(CgroupDriverEnum) },
);
export const RuntimeConfigResponseDef = message<RuntimeConfigResponse>("RuntimeConfigResponse", {
  linux: opt(msg(LinuxRuntimeConfigurationDef)),
});

export const NetworkConfigDef = message<NetworkConfig>("NetworkConfig", { podCidr: opt(str) });
export const RuntimeConfigDef = message<RuntimeConfig>("RuntimeConfig", {
  networkConfig: opt(msg(NetworkConfigDef)),
});
export const UpdateRuntimeConfigRequestDef = message<UpdateRuntimeConfigRequest>(
  "UpdateRuntimeConfigRequest",
  {
    runtimeConfig: msg(RuntimeConfigDef),
  },
);

// ---- pod sandboxes ----

export const RunPodSandboxRequestDef = message<RunPodSandboxRequest>("RunPodSandboxRequest", {
  config: msg(PodSandboxConfigDef),
  runtimeHandler: opt(str),
});
export const RunPodSandboxResponseDef = message<RunPodSandboxResponse>("RunPodSandboxResponse", {
  podSandboxId: str,
});
export const StopPodSandboxRequestDef = message<StopPodSandboxRequest>("StopPodSandboxRequest", {
  podSandboxId: str,
});
export const RemovePodSandboxRequestDef = message<RemovePodSandboxRequest>("RemovePodSandboxRequest", {
  podSandboxId: str,
});
export const PodSandboxStatusRequestDef = message<PodSandboxStatusRequest>("PodSandboxStatusRequest", {
  podSandboxId: str,
  verbose: opt(bool),
});
export const PodSandboxStatusResponseDef = message<PodSandboxStatusResponse>("PodSandboxStatusResponse", {
  status: msg(PodSandboxStatusDef),
  info: opt(map),
  containersStatuses: opt(list(msg(ContainerStatusDef))),
  timestamp: opt(timestamp),
});
export const ListPodSandboxRequestDef = message<ListPodSandboxRequest>("ListPodSandboxRequest", {
  filter: opt(msg(PodSandboxFilterDef)),
});
export const ListPodSandboxResponseDef = message<ListPodSandboxResponse>("ListPodSandboxResponse", {
  items: list(msg(PodSandboxDef)),
});
export const PodSandboxStatsRequestDef = message<PodSandboxStatsRequest>("PodSandboxStatsRequest", {
  podSandboxId: str,
});
export const PodSandboxStatsResponseDef = message<PodSandboxStatsResponse>("PodSandboxStatsResponse", {
  stats: msg(PodSandboxStatsDef),
});
export const ListPodSandboxStatsRequestDef = message<ListPodSandboxStatsRequest>(
  "ListPodSandboxStatsRequest",
  {
    filter: opt(msg(PodSandboxStatsFilterDef)),
  },
);
export const ListPodSandboxStatsResponseDef = message<ListPodSandboxStatsResponse>(
  "ListPodSandboxStatsResponse",
  { stats: list(msg(PodSandboxStatsDef)) },
);
export const ListPodSandboxMetricsResponseDef = message<ListPodSandboxMetricsResponse>(
  "ListPodSandboxMetricsResponse",
  { podMetrics: list(msg(PodSandboxMetricsDef)) },
);
export const ListMetricDescriptorsResponseDef = message<ListMetricDescriptorsResponse>(
  "ListMetricDescriptorsResponse",
  { descriptors: list(msg(MetricDescriptorDef)) },
);
export const PortForwardRequestDef = message<PortForwardRequest>("PortForwardRequest", {
  podSandboxId: str,
  port: opt(list(i32)),
});

// ---- containers ----

export const CreateContainerRequestDef = message<CreateContainerRequest>("CreateContainerRequest", {
  podSandboxId: str,
  config: msg(ContainerConfigDef),
  sandboxConfig: opt(msg(PodSandboxConfigDef)),
});
export const CreateContainerResponseDef = message<CreateContainerResponse>("CreateContainerResponse", {
  containerId: str,
});
export const StartContainerRequestDef = message<StartContainerRequest>("StartContainerRequest", {
  containerId: str,
});
export const StopContainerRequestDef = message<StopContainerRequest>("StopContainerRequest", {
  containerId: str,
  timeout: opt(i64),
});
export const RemoveContainerRequestDef = message<RemoveContainerRequest>("RemoveContainerRequest", {
  containerId: str,
});
export const ListContainersRequestDef = message<ListContainersRequest>("ListContainersRequest", {
  filter: opt(msg(ContainerFilterDef)),
});
export const ListContainersResponseDef = message<ListContainersResponse>("ListContainersResponse", {
  containers: list(msg(ContainerDef)),
});
export const ContainerStatusRequestDef = message<ContainerStatusRequest>("ContainerStatusRequest", {
  containerId: str,
  verbose: opt(bool),
});
export const ContainerStatusResponseDef = message<ContainerStatusResponse>("ContainerStatusResponse", {
  status: msg(ContainerStatusDef),
  info: opt(map),
});
export const UpdateContainerResourcesRequestDef = message<UpdateContainerResourcesRequest>(
  "UpdateContainerResourcesRequest",
  {
    containerId: str,
    linux: opt(msg(LinuxContainerResourcesDef)),
    windows: opt(msg(WindowsContainerResourcesDef)),
    annotations: annotations(opt(freeMap)),
  },
);
export const ReopenContainerLogRequestDef = message<ReopenContainerLogRequest>("ReopenContainerLogRequest", {
  containerId: str,
});
export const ExecSyncRequestDef = message<ExecSyncRequest>("ExecSyncRequest", {
  containerId: str,
  cmd: argv(list(str)),
  timeout: opt(i64),
});
export const ExecSyncResponseDef = message<ExecSyncResponse>("ExecSyncResponse", {
  stdout: bytes,
  stderr: bytes,
  exitCode: i32,
});
export const ExecRequestDef = message<ExecRequest>("ExecRequest", {
  containerId: str,
  cmd: argv(list(str)),
  tty: opt(bool),
  stdin: opt(bool),
  stdout: opt(bool),
  stderr: opt(bool),
});
export const AttachRequestDef = message<AttachRequest>("AttachRequest", {
  containerId: str,
  stdin: opt(bool),
  tty: opt(bool),
  stdout: opt(bool),
  stderr: opt(bool),
});
export const ContainerStatsRequestDef = message<ContainerStatsRequest>("ContainerStatsRequest", {
  containerId: str,
});
export const ContainerStatsResponseDef = message<ContainerStatsResponse>("ContainerStatsResponse", {
  stats: msg(ContainerStatsDef),
});
export const ListContainerStatsRequestDef = message<ListContainerStatsRequest>("ListContainerStatsRequest", {
  filter: opt(msg(ContainerStatsFilterDef)),
});
export const ListContainerStatsResponseDef = message<ListContainerStatsResponse>(
  "ListContainerStatsResponse",
  {
    stats: list(msg(ContainerStatsDef)),
  },
);
export const CheckpointContainerRequestDef = message<CheckpointContainerRequest>(
  "CheckpointContainerRequest",
  {
    containerId: str,
    location: opt(str),
    timeout: opt(i64),
  },
);
export const ContainerEventResponseDef = message<ContainerEventResponse>("ContainerEventResponse", {
  containerId: str,
  containerEventType: enumOf(ContainerEventTypeEnum),
  createdAt: timestamp,
  podSandboxStatus: opt(msg(PodSandboxStatusDef)),
  containersStatuses: list(msg(ContainerStatusDef)),
});

// ---- images ----

export const ListImagesRequestDef = message<ListImagesRequest>("ListImagesRequest", {
  filter: opt(msg(ImageFilterDef)),
});
export const ListImagesResponseDef = message<ListImagesResponse>("ListImagesResponse", {
  images: list(msg(ImageDef)),
});
export const ImageStatusRequestDef = message<ImageStatusRequest>("ImageStatusRequest", {
  image: msg(ImageSpecDef),
  verbose: opt(bool),
});
export const ImageStatusResponseDef = message<ImageStatusResponse>("ImageStatusResponse", {
  image: opt(msg(ImageDef)),
  info: opt(map),
});
export const PullImageRequestDef = message<PullImageRequest>("PullImageRequest", {
  image: msg(ImageSpecDef),
  auth: opt(msg(AuthConfigDef)),
  sandboxConfig: opt(msg(PodSandboxConfigDef)),
});
export const PullImageResponseDef = message<PullImageResponse>("PullImageResponse", { imageRef: str });
export const RemoveImageRequestDef = message<RemoveImageRequest>("RemoveImageRequest", {
  image: msg(ImageSpecDef),
});
export const ImageFsInfoResponseDef = message<ImageFsInfoResponse>("ImageFsInfoResponse", {
  imageFilesystems: list(msg(FilesystemUsageDef)),
  containerFilesystems: list(msg(FilesystemUsageDef)),
});
