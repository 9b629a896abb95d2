/** The table of every CRI RPC: its request and response messages and the fields it requires. */
import { type CallOptions, CriError, type ImageService, type RuntimeService } from "@servin/cri-types";
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

/** Which CRI service an RPC belongs to. */
export type RpcService = "runtime" | "image";

/**
 * How an RPC answers: one message, or a server stream (GetContainerEvents) that
 * runs until the client cancels.
 */
export type RpcKind = "unary" | "server-stream";

/**
 * A gRPC-only Stream* variant of a List RPC (CRI 1.31+): the same request, the list
 * split into several messages, `from` the field of the list response (proto wire
 * object) holding the items and `to` the field of each stream message carrying them.
 */
export interface ListStreamSpec {
  readonly grpc: string;
  readonly from: string;
  readonly to: string;
}

/** One RPC of the registry: everything every layer needs to serve it. */
export interface RpcSpec<Req, Res> {
  readonly service: RpcService;
  readonly kind: RpcKind;
  /** The method name in the CRI .proto (`ListContainers`). */
  readonly grpc: string;
  /** The POST paths of the documented HTTP/JSON API, the canonical one first (a public contract). */
  readonly http: readonly [string, ...string[]];
  readonly request: MessageDef<Req>;
  readonly response: MessageDef<Res>;
  readonly requires?: Requirement;
  readonly listStream?: ListStreamSpec;
}

const CONTAINER_ID: Requirement = { containerId: {} };
const SANDBOX_ID: Requirement = { podSandboxId: {} };
const IMAGE: Requirement = { image: { image: {} } };

interface Extra {
  requires?: Requirement;
  kind?: RpcKind;
  /** Further HTTP paths answering the same RPC. */
  aliases?: string[];
  listStream?: ListStreamSpec;
}

const spec =
  (service: RpcService, prefix: string) =>
  <Req, Res>(
    grpc: string,
    path: string,
    request: MessageDef<Req>,
    response: MessageDef<Res>,
    extra: Extra = {},
  ): RpcSpec<Req, Res> => ({
    service,
    kind: extra.kind ?? "unary",
    grpc,
    http: [`${prefix}${path}`, ...(extra.aliases ?? []).map((alias) => `${prefix}${alias}`)],
    request,
    response,
    ...(extra.requires ? { requires: extra.requires } : {}),
    ...(extra.listStream ? { listStream: extra.listStream } : {}),
  });
const runtime = spec("runtime", "/v1/runtime/");
const image = spec("image", "/v1/image/");

/**
 * Every RPC of RuntimeService then ImageService, in the order of the cri-types
 * interfaces: the one list the gRPC method tables, the HTTP routes and the
 * clients are derived from. The mapped type makes a method added to a cri-types
 * service and missing here (or the reverse) a type error.
 */
export const RPCS: { readonly [R in RpcName]: RpcSpec<RequestOf<R>, ResponseOf<R>> } = {
  version: runtime("Version", "version", m.VersionRequestDef, m.VersionResponseDef),
  status: runtime("Status", "status", m.StatusRequestDef, m.StatusResponseDef),
  runtimeConfig: runtime("RuntimeConfig", "config", m.EmptyDef, m.RuntimeConfigResponseDef),
  updateRuntimeConfig: runtime(
    "UpdateRuntimeConfig",
    "config/update",
    m.UpdateRuntimeConfigRequestDef,
    m.EmptyDef,
  ),

  // `/sandbox/create` is the HTTP API's first name for RunPodSandbox; `/sandbox/run` its alias.
  runPodSandbox: runtime(
    "RunPodSandbox",
    "sandbox/create",
    m.RunPodSandboxRequestDef,
    m.RunPodSandboxResponseDef,
    {
      requires: { config: { metadata: { name: {} } } },
      aliases: ["sandbox/run"],
    },
  ),
  stopPodSandbox: runtime("StopPodSandbox", "sandbox/stop", m.StopPodSandboxRequestDef, m.EmptyDef, {
    requires: SANDBOX_ID,
  }),
  removePodSandbox: runtime("RemovePodSandbox", "sandbox/remove", m.RemovePodSandboxRequestDef, m.EmptyDef, {
    requires: SANDBOX_ID,
  }),
  podSandboxStatus: runtime(
    "PodSandboxStatus",
    "sandbox/status",
    m.PodSandboxStatusRequestDef,
    m.PodSandboxStatusResponseDef,
    { requires: SANDBOX_ID },
  ),
  listPodSandbox: runtime(
    "ListPodSandbox",
    "sandbox/list",
    m.ListPodSandboxRequestDef,
    m.ListPodSandboxResponseDef,
    {
      listStream: { grpc: "StreamPodSandboxes", from: "items", to: "podSandboxes" },
    },
  ),
  podSandboxStats: runtime(
    "PodSandboxStats",
    "sandbox/stats",
    m.PodSandboxStatsRequestDef,
    m.PodSandboxStatsResponseDef,
    { requires: SANDBOX_ID },
  ),
  listPodSandboxStats: runtime(
    "ListPodSandboxStats",
    "sandbox/list-stats",
    m.ListPodSandboxStatsRequestDef,
    m.ListPodSandboxStatsResponseDef,
    { listStream: { grpc: "StreamPodSandboxStats", from: "stats", to: "podSandboxStats" } },
  ),
  listPodSandboxMetrics: runtime(
    "ListPodSandboxMetrics",
    "sandbox/metrics",
    m.EmptyDef,
    m.ListPodSandboxMetricsResponseDef,
    { listStream: { grpc: "StreamPodSandboxMetrics", from: "podMetrics", to: "podSandboxMetrics" } },
  ),
  listMetricDescriptors: runtime(
    "ListMetricDescriptors",
    "metrics/descriptors",
    m.EmptyDef,
    m.ListMetricDescriptorsResponseDef,
  ),
  portForward: runtime(
    "PortForward",
    "sandbox/port-forward",
    m.PortForwardRequestDef,
    m.StreamingUrlResponseDef,
    {
      requires: SANDBOX_ID,
    },
  ),

  createContainer: runtime(
    "CreateContainer",
    "container/create",
    m.CreateContainerRequestDef,
    m.CreateContainerResponseDef,
    { requires: { podSandboxId: {}, config: { metadata: { name: {} }, image: { image: {} } } } },
  ),
  startContainer: runtime("StartContainer", "container/start", m.StartContainerRequestDef, m.EmptyDef, {
    requires: CONTAINER_ID,
  }),
  stopContainer: runtime("StopContainer", "container/stop", m.StopContainerRequestDef, m.EmptyDef, {
    requires: CONTAINER_ID,
  }),
  removeContainer: runtime("RemoveContainer", "container/remove", m.RemoveContainerRequestDef, m.EmptyDef, {
    requires: CONTAINER_ID,
  }),
  listContainers: runtime(
    "ListContainers",
    "container/list",
    m.ListContainersRequestDef,
    m.ListContainersResponseDef,
    { listStream: { grpc: "StreamContainers", from: "containers", to: "containers" } },
  ),
  containerStatus: runtime(
    "ContainerStatus",
    "container/status",
    m.ContainerStatusRequestDef,
    m.ContainerStatusResponseDef,
    { requires: CONTAINER_ID },
  ),
  updateContainerResources: runtime(
    "UpdateContainerResources",
    "container/update",
    m.UpdateContainerResourcesRequestDef,
    m.EmptyDef,
    { requires: CONTAINER_ID },
  ),
  reopenContainerLog: runtime(
    "ReopenContainerLog",
    "container/reopen-log",
    m.ReopenContainerLogRequestDef,
    m.EmptyDef,
    { requires: CONTAINER_ID },
  ),
  execSync: runtime("ExecSync", "container/exec-sync", m.ExecSyncRequestDef, m.ExecSyncResponseDef, {
    requires: { containerId: {}, cmd: {} },
  }),
  exec: runtime("Exec", "container/exec", m.ExecRequestDef, m.StreamingUrlResponseDef, {
    requires: { containerId: {}, cmd: {} },
  }),
  attach: runtime("Attach", "container/attach", m.AttachRequestDef, m.StreamingUrlResponseDef, {
    requires: CONTAINER_ID,
  }),
  containerStats: runtime(
    "ContainerStats",
    "container/stats",
    m.ContainerStatsRequestDef,
    m.ContainerStatsResponseDef,
    { requires: CONTAINER_ID },
  ),
  listContainerStats: runtime(
    "ListContainerStats",
    "container/list-stats",
    m.ListContainerStatsRequestDef,
    m.ListContainerStatsResponseDef,
    { listStream: { grpc: "StreamContainerStats", from: "stats", to: "containerStats" } },
  ),
  checkpointContainer: runtime(
    "CheckpointContainer",
    "container/checkpoint",
    m.CheckpointContainerRequestDef,
    m.EmptyDef,
    { requires: CONTAINER_ID },
  ),
  // Newline-delimited JSON over HTTP, a server stream over gRPC.
  getContainerEvents: runtime(
    "GetContainerEvents",
    "container/events",
    m.GetEventsRequestDef,
    m.ContainerEventResponseDef,
    { kind: "server-stream" },
  ),

  listImages: image("ListImages", "list", m.ListImagesRequestDef, m.ListImagesResponseDef, {
    listStream: { grpc: "StreamImages", from: "images", to: "images" },
  }),
  imageStatus: image("ImageStatus", "status", m.ImageStatusRequestDef, m.ImageStatusResponseDef, {
    requires: IMAGE,
  }),
  pullImage: image("PullImage", "pull", m.PullImageRequestDef, m.PullImageResponseDef, { requires: IMAGE }),
  removeImage: image("RemoveImage", "remove", m.RemoveImageRequestDef, m.EmptyDef, { requires: IMAGE }),
  imageFsInfo: image("ImageFsInfo", "fsinfo", m.EmptyDef, m.ImageFsInfoResponseDef),
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

/** The two services an RPC can be dispatched to. */
export interface CriServices {
  runtime: RuntimeService;
  image: ImageService;
}

/** What calling an RPC returns: a promise of its response, or for a server stream the async iterable of its messages. */
export type ResultOf<R extends RpcName> = ReturnType<Services[R]>;

/**
 * Calls one RPC on the service the registry assigns it to: the one typed
 * dispatch every transport uses. A service object lacking the method (an
 * embedder's partial implementation) answers Unimplemented.
 *
 * @example
 * const res = await dispatchRpc({ runtime, image }, "listContainers", {}, { signal, transport: "http" });
 */
export function dispatchRpc<R extends RpcName>(
  services: CriServices,
  rpc: R,
  req: RequestOf<R>,
  opts: CallOptions,
): ResultOf<R> {
  const target = services[RPCS[rpc].service];
  // The registry's mapped type ties `rpc` to a method of exactly this service; TypeScript cannot follow that
  // through the union of the two services, hence the one cast of the codebase's dispatch.
  const method = (
    target as unknown as Record<RpcName, ((req: unknown, opts: CallOptions) => unknown) | undefined>
  )[rpc];
  if (typeof method !== "function") throw CriError.unimplemented(RPCS[rpc].grpc);
  return method.call(target, req, opts) as ResultOf<R>;
}
