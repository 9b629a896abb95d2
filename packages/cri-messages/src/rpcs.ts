/** The table of every CRI RPC: its request and response messages and the fields it requires. */
import type { ImageService, RuntimeService } from "@servin/cri-types";
import type { Requirement } from "./_decode.js";
import type { MessageDef } from "./_schema.js";
import * as m from "./messages/_services.js";

type Services = RuntimeService & ImageService;

/** An RPC by its domain method name: "runPodSandbox", "pullImage", … */
export type RpcName = keyof RuntimeService | keyof ImageService;

/**
 * The domain request of an RPC (the method's first parameter).
 *
 * @example
 * const req: RequestOf<"stopContainer"> = { containerId: "3f2a", timeout: 10 };
 */
export type RequestOf<R extends RpcName> = Parameters<Services[R]>[0];

/**
 * The domain response of an RPC; for the getContainerEvents stream, one ContainerEventResponse.
 *
 * @example
 * const res: ResponseOf<"pullImage"> = { imageRef: "sha256:…" };
 */
export type ResponseOf<R extends RpcName> = Services[R] extends (...args: never[]) => Promise<infer T>
  ? T
  : Services[R] extends (...args: never[]) => AsyncIterable<infer E>
    ? E
    : never;

interface RpcSpec<Req, Res> {
  readonly service: "runtime" | "image";
  readonly request: MessageDef<Req>;
  readonly response: MessageDef<Res>;
  readonly requires?: Requirement;
}

const CONTAINER_ID: Requirement = { containerId: {} };
const SANDBOX_ID: Requirement = { podSandboxId: {} };
const IMAGE: Requirement = { image: { image: {} } };

const runtime = <Req, Res>(request: MessageDef<Req>, response: MessageDef<Res>, requires?: Requirement) => ({
  service: "runtime" as const,
  request,
  response,
  ...(requires ? { requires } : {}),
});
const image = <Req, Res>(request: MessageDef<Req>, response: MessageDef<Res>, requires?: Requirement) => ({
  service: "image" as const,
  request,
  response,
  ...(requires ? { requires } : {}),
});

/** Every RPC of RuntimeService then ImageService, in the order of the cri-types interfaces. */
export const RPCS: { readonly [R in RpcName]: RpcSpec<RequestOf<R>, ResponseOf<R>> } = {
  version: runtime(m.VersionRequestDef, m.VersionResponseDef),
  status: runtime(m.StatusRequestDef, m.StatusResponseDef),
  runtimeConfig: runtime(m.EmptyDef, m.RuntimeConfigResponseDef),
  updateRuntimeConfig: runtime(m.UpdateRuntimeConfigRequestDef, m.EmptyDef),

  runPodSandbox: runtime(m.RunPodSandboxRequestDef, m.RunPodSandboxResponseDef, {
    config: { metadata: { name: {} } },
  }),
  stopPodSandbox: runtime(m.StopPodSandboxRequestDef, m.EmptyDef, SANDBOX_ID),
  removePodSandbox: runtime(m.RemovePodSandboxRequestDef, m.EmptyDef, SANDBOX_ID),
  podSandboxStatus: runtime(m.PodSandboxStatusRequestDef, m.PodSandboxStatusResponseDef, SANDBOX_ID),
  listPodSandbox: runtime(m.ListPodSandboxRequestDef, m.ListPodSandboxResponseDef),
  podSandboxStats: runtime(m.PodSandboxStatsRequestDef, m.PodSandboxStatsResponseDef, SANDBOX_ID),
  listPodSandboxStats: runtime(m.ListPodSandboxStatsRequestDef, m.ListPodSandboxStatsResponseDef),
  listPodSandboxMetrics: runtime(m.EmptyDef, m.ListPodSandboxMetricsResponseDef),
  listMetricDescriptors: runtime(m.EmptyDef, m.ListMetricDescriptorsResponseDef),
  portForward: runtime(m.PortForwardRequestDef, m.StreamingUrlResponseDef, SANDBOX_ID),

  createContainer: runtime(m.CreateContainerRequestDef, m.CreateContainerResponseDef, {
    podSandboxId: {},
    config: { metadata: { name: {} }, image: { image: {} } },
  }),
  startContainer: runtime(m.StartContainerRequestDef, m.EmptyDef, CONTAINER_ID),
  stopContainer: runtime(m.StopContainerRequestDef, m.EmptyDef, CONTAINER_ID),
  removeContainer: runtime(m.RemoveContainerRequestDef, m.EmptyDef, CONTAINER_ID),
  listContainers: runtime(m.ListContainersRequestDef, m.ListContainersResponseDef),
  containerStatus: runtime(m.ContainerStatusRequestDef, m.ContainerStatusResponseDef, CONTAINER_ID),
  updateContainerResources: runtime(m.UpdateContainerResourcesRequestDef, m.EmptyDef, CONTAINER_ID),
  reopenContainerLog: runtime(m.ReopenContainerLogRequestDef, m.EmptyDef, CONTAINER_ID),
  execSync: runtime(m.ExecSyncRequestDef, m.ExecSyncResponseDef, { containerId: {}, cmd: {} }),
  exec: runtime(m.ExecRequestDef, m.StreamingUrlResponseDef, { containerId: {}, cmd: {} }),
  attach: runtime(m.AttachRequestDef, m.StreamingUrlResponseDef, CONTAINER_ID),
  containerStats: runtime(m.ContainerStatsRequestDef, m.ContainerStatsResponseDef, CONTAINER_ID),
  listContainerStats: runtime(m.ListContainerStatsRequestDef, m.ListContainerStatsResponseDef),
  checkpointContainer: runtime(m.CheckpointContainerRequestDef, m.EmptyDef, CONTAINER_ID),
  getContainerEvents: runtime(m.GetEventsRequestDef, m.ContainerEventResponseDef),

  listImages: image(m.ListImagesRequestDef, m.ListImagesResponseDef),
  imageStatus: image(m.ImageStatusRequestDef, m.ImageStatusResponseDef, IMAGE),
  pullImage: image(m.PullImageRequestDef, m.PullImageResponseDef, IMAGE),
  removeImage: image(m.RemoveImageRequestDef, m.EmptyDef, IMAGE),
  imageFsInfo: image(m.EmptyDef, m.ImageFsInfoResponseDef),
};

/**
 * Every RPC name, RuntimeService first.
 *
 * @example
 * RPC_NAMES.includes("pullImage"); // true
 */
export const RPC_NAMES: readonly RpcName[] = Object.freeze(Object.keys(RPCS) as RpcName[]);

/**
 * The RuntimeService RPC names.
 *
 * @example
 * RUNTIME_RPC_NAMES[0]; // "version"
 */
export const RUNTIME_RPC_NAMES: readonly (keyof RuntimeService)[] = Object.freeze(
  RPC_NAMES.filter((rpc): rpc is keyof RuntimeService => RPCS[rpc].service === "runtime"),
);

/**
 * The ImageService RPC names.
 *
 * @example
 * IMAGE_RPC_NAMES; // ["listImages", "imageStatus", "pullImage", "removeImage", "imageFsInfo"]
 */
export const IMAGE_RPC_NAMES: readonly (keyof ImageService)[] = Object.freeze(
  RPC_NAMES.filter((rpc): rpc is keyof ImageService => RPCS[rpc].service === "image"),
);

/**
 * True when `name` is an RPC of RuntimeService or ImageService (own keys only, so `"constructor"` is not).
 *
 * @example
 * isRpcName("execSync"); // true
 * isRpcName("toString"); // false
 */
export function isRpcName(name: unknown): name is RpcName {
  return typeof name === "string" && Object.hasOwn(RPCS, name);
}
