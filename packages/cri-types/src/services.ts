/**
 * The CRI v1 RuntimeService and ImageService, one method per RPC, with the
 * request and response of each in the CRI's own words (lowerCamelCase fields,
 * the proto3 JSON names). Transports decode into these and encode out of them.
 */
import type {
  AuthConfig,
  ImageSpec,
  KeyValue,
  LinuxContainerResources,
  StringMap,
  WindowsContainerResources,
} from "./common.js";
import type {
  Container,
  ContainerConfig,
  ContainerFilter,
  ContainerStatsFilter,
  ContainerStatus,
} from "./container.js";
import type { ContainerId, SandboxId, UnixNanos } from "./ids.js";
import type { FilesystemInfo, Image, ImageFilter } from "./image.js";
import type {
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatsFilter,
  PodSandboxStatus,
} from "./sandbox.js";
import type { ContainerStats, MetricDescriptor, PodSandboxMetrics, PodSandboxStats } from "./stats.js";

// ---- runtime: version, status, config ----

export interface VersionRequest {
  version?: string;
}
export interface VersionResponse {
  /** Version of the kubelet runtime API ("0.1.0"). */
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface RuntimeCondition {
  /** RuntimeReady, NetworkReady, or a runtime-specific type. */
  type: string;
  status: boolean;
  reason: string;
  message: string;
}
export interface RuntimeStatus {
  conditions: RuntimeCondition[];
}
export interface RuntimeHandlerFeatures {
  recursiveReadOnlyMounts?: boolean;
  userNamespaces?: boolean;
}
export interface RuntimeHandler {
  name: string;
  features?: RuntimeHandlerFeatures;
}
export interface RuntimeFeatures {
  supplementalGroupsPolicy?: boolean;
}
export interface StatusRequest {
  verbose?: boolean;
}
export interface StatusResponse {
  status: RuntimeStatus;
  info?: StringMap;
  runtimeHandlers?: RuntimeHandler[];
  features?: RuntimeFeatures;
}

export type CgroupDriver = "SYSTEMD" | "CGROUPFS";
export interface RuntimeConfigResponse {
  linux?: { cgroupDriver: CgroupDriver };
}

export interface NetworkConfig {
  podCidr?: string;
}
export interface RuntimeConfig {
  networkConfig?: NetworkConfig;
}
export interface UpdateRuntimeConfigRequest {
  runtimeConfig: RuntimeConfig;
}

// ---- pod sandboxes ----

export interface RunPodSandboxRequest {
  config: PodSandboxConfig;
  runtimeHandler?: string;
}
export interface RunPodSandboxResponse {
  podSandboxId: SandboxId;
}
export interface StopPodSandboxRequest {
  podSandboxId: string;
}
export interface RemovePodSandboxRequest {
  podSandboxId: string;
}
export interface PodSandboxStatusRequest {
  podSandboxId: string;
  verbose?: boolean;
}
export interface PodSandboxStatusResponse {
  status: PodSandboxStatus;
  /** verbose only: values are JSON strings. */
  info?: StringMap;
  containersStatuses?: ContainerStatus[];
  timestamp?: UnixNanos;
}
export interface ListPodSandboxRequest {
  filter?: PodSandboxFilter;
}
export interface ListPodSandboxResponse {
  items: PodSandbox[];
}
export interface PodSandboxStatsRequest {
  podSandboxId: string;
}
export interface PodSandboxStatsResponse {
  stats: PodSandboxStats;
}
export interface ListPodSandboxStatsRequest {
  filter?: PodSandboxStatsFilter;
}
export interface ListPodSandboxStatsResponse {
  stats: PodSandboxStats[];
}
export interface ListPodSandboxMetricsResponse {
  podMetrics: PodSandboxMetrics[];
}
export interface ListMetricDescriptorsResponse {
  descriptors: MetricDescriptor[];
}

// ---- containers ----

export interface CreateContainerRequest {
  podSandboxId: string;
  config: ContainerConfig;
  sandboxConfig?: PodSandboxConfig;
}
export interface CreateContainerResponse {
  containerId: ContainerId;
}
export interface StartContainerRequest {
  containerId: string;
}
export interface StopContainerRequest {
  containerId: string;
  /** Seconds to wait after the stop signal before SIGKILL; 0 kills at once. */
  timeout?: number;
}
export interface RemoveContainerRequest {
  containerId: string;
}
export interface ListContainersRequest {
  filter?: ContainerFilter;
}
export interface ListContainersResponse {
  containers: Container[];
}
export interface ContainerStatusRequest {
  containerId: string;
  verbose?: boolean;
}
export interface ContainerStatusResponse {
  status: ContainerStatus;
  /** verbose only: values are JSON strings. */
  info?: StringMap;
}
export interface UpdateContainerResourcesRequest {
  containerId: string;
  linux?: LinuxContainerResources;
  windows?: WindowsContainerResources;
  annotations?: StringMap;
}
export interface ReopenContainerLogRequest {
  containerId: string;
}
export interface ExecSyncRequest {
  containerId: string;
  cmd: string[];
  /** Seconds; 0 means no timeout. */
  timeout?: number;
}
export interface ExecSyncResponse {
  stdout: Uint8Array;
  stderr: Uint8Array;
  exitCode: number;
}
export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}
export interface StreamingUrlResponse {
  url: string;
}
export interface AttachRequest {
  containerId: string;
  stdin?: boolean;
  tty?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}
export interface PortForwardRequest {
  podSandboxId: string;
  port?: number[];
}
export interface ContainerStatsRequest {
  containerId: string;
}
export interface ContainerStatsResponse {
  stats: ContainerStats;
}
export interface ListContainerStatsRequest {
  filter?: ContainerStatsFilter;
}
export interface ListContainerStatsResponse {
  stats: ContainerStats[];
}
export interface CheckpointContainerRequest {
  containerId: string;
  location?: string;
  timeout?: number;
}
export type GetEventsRequest = {};

export type ContainerEventType =
  | "CONTAINER_CREATED_EVENT"
  | "CONTAINER_STARTED_EVENT"
  | "CONTAINER_STOPPED_EVENT"
  | "CONTAINER_DELETED_EVENT";

export interface ContainerEventResponse {
  containerId: string;
  containerEventType: ContainerEventType;
  createdAt: UnixNanos;
  podSandboxStatus?: PodSandboxStatus;
  containersStatuses: ContainerStatus[];
}

export type Empty = Record<string, never>;

/** The edge a call came in through; calls made in process carry none. */
export type CallTransport = "http" | "grpc";

/** Options every call may carry: cancellation from the transport (client gone, deadline), and which transport it is. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Set by the transports so that a service's per-RPC metrics and log lines can say where a call came from. */
  transport?: CallTransport;
}

/**
 * The CRI v1 RuntimeService. Every method throws CriError on failure.
 * Unimplemented RPCs throw CriError("Unimplemented"), never a fake success.
 */
export interface RuntimeService {
  version(req: VersionRequest, opts?: CallOptions): Promise<VersionResponse>;
  status(req: StatusRequest, opts?: CallOptions): Promise<StatusResponse>;
  runtimeConfig(req: Empty, opts?: CallOptions): Promise<RuntimeConfigResponse>;
  updateRuntimeConfig(req: UpdateRuntimeConfigRequest, opts?: CallOptions): Promise<Empty>;

  runPodSandbox(req: RunPodSandboxRequest, opts?: CallOptions): Promise<RunPodSandboxResponse>;
  stopPodSandbox(req: StopPodSandboxRequest, opts?: CallOptions): Promise<Empty>;
  removePodSandbox(req: RemovePodSandboxRequest, opts?: CallOptions): Promise<Empty>;
  podSandboxStatus(req: PodSandboxStatusRequest, opts?: CallOptions): Promise<PodSandboxStatusResponse>;
  listPodSandbox(req: ListPodSandboxRequest, opts?: CallOptions): Promise<ListPodSandboxResponse>;
  podSandboxStats(req: PodSandboxStatsRequest, opts?: CallOptions): Promise<PodSandboxStatsResponse>;
  listPodSandboxStats(
    req: ListPodSandboxStatsRequest,
    opts?: CallOptions,
  ): Promise<ListPodSandboxStatsResponse>;
  listPodSandboxMetrics(req: Empty, opts?: CallOptions): Promise<ListPodSandboxMetricsResponse>;
  listMetricDescriptors(req: Empty, opts?: CallOptions): Promise<ListMetricDescriptorsResponse>;
  portForward(req: PortForwardRequest, opts?: CallOptions): Promise<StreamingUrlResponse>;

  createContainer(req: CreateContainerRequest, opts?: CallOptions): Promise<CreateContainerResponse>;
  startContainer(req: StartContainerRequest, opts?: CallOptions): Promise<Empty>;
  stopContainer(req: StopContainerRequest, opts?: CallOptions): Promise<Empty>;
  removeContainer(req: RemoveContainerRequest, opts?: CallOptions): Promise<Empty>;
  listContainers(req: ListContainersRequest, opts?: CallOptions): Promise<ListContainersResponse>;
  containerStatus(req: ContainerStatusRequest, opts?: CallOptions): Promise<ContainerStatusResponse>;
  updateContainerResources(req: UpdateContainerResourcesRequest, opts?: CallOptions): Promise<Empty>;
  reopenContainerLog(req: ReopenContainerLogRequest, opts?: CallOptions): Promise<Empty>;
  execSync(req: ExecSyncRequest, opts?: CallOptions): Promise<ExecSyncResponse>;
  exec(req: ExecRequest, opts?: CallOptions): Promise<StreamingUrlResponse>;
  attach(req: AttachRequest, opts?: CallOptions): Promise<StreamingUrlResponse>;
  containerStats(req: ContainerStatsRequest, opts?: CallOptions): Promise<ContainerStatsResponse>;
  listContainerStats(req: ListContainerStatsRequest, opts?: CallOptions): Promise<ListContainerStatsResponse>;
  checkpointContainer(req: CheckpointContainerRequest, opts?: CallOptions): Promise<Empty>;
  /** Streams container lifecycle events until `opts.signal` aborts. */
  getContainerEvents(req: GetEventsRequest, opts?: CallOptions): AsyncIterable<ContainerEventResponse>;
}

// ---- images ----

export interface ListImagesRequest {
  filter?: ImageFilter;
}
export interface ListImagesResponse {
  images: Image[];
}
export interface ImageStatusRequest {
  image: ImageSpec;
  verbose?: boolean;
}
export interface ImageStatusResponse {
  /** Absent when the image is not present (the CRI answers success with no image). */
  image?: Image;
  /** verbose only: values are JSON strings. */
  info?: StringMap;
}
export interface PullImageRequest {
  image: ImageSpec;
  auth?: AuthConfig;
  sandboxConfig?: PodSandboxConfig;
}
export interface PullImageResponse {
  imageRef: string;
}
export interface RemoveImageRequest {
  image: ImageSpec;
}
export interface ImageFsInfoResponse extends FilesystemInfo {}

/** Progress of a pull, for CLIs and logs (not part of the CRI). */
export interface PullProgress {
  /** Digest of the blob. */
  digest: string;
  kind: "manifest" | "config" | "layer";
  total: number;
  current: number;
  status: "waiting" | "downloading" | "verifying" | "exists" | "done" | "unpacking" | "unpacked";
}

export interface PullOptions extends CallOptions {
  onProgress?: (event: PullProgress) => void;
}

/** The CRI v1 ImageService. Every method throws CriError on failure. */
export interface ImageService {
  listImages(req: ListImagesRequest, opts?: CallOptions): Promise<ListImagesResponse>;
  imageStatus(req: ImageStatusRequest, opts?: CallOptions): Promise<ImageStatusResponse>;
  pullImage(req: PullImageRequest, opts?: PullOptions): Promise<PullImageResponse>;
  /** Removing an image that is absent succeeds (CRI idempotency). */
  removeImage(req: RemoveImageRequest, opts?: CallOptions): Promise<Empty>;
  imageFsInfo(req: Empty, opts?: CallOptions): Promise<ImageFsInfoResponse>;
}

export type { KeyValue };
