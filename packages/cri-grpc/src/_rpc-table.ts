/** The one table that says how each gRPC method of the CRI services maps onto the domain services. */
import type { ImageService, RuntimeService } from "@servin/cri-types";

export type RuntimeRpc = keyof RuntimeService;
export type ImageRpc = keyof ImageService;
export type DomainRpc = RuntimeRpc | ImageRpc;

/** How a gRPC method is served. */
export type MethodSpec =
  /** Request → service method → response. */
  | { kind: "unary"; service: "runtime"; rpc: Exclude<RuntimeRpc, "getContainerEvents"> }
  | { kind: "unary"; service: "images"; rpc: ImageRpc }
  /** Server stream fed by the service's AsyncIterable until the client cancels. */
  | { kind: "events"; service: "runtime"; rpc: "getContainerEvents" }
  /**
   * The CRI's Stream* variants of the List RPCs: the same request filter, the
   * list split into messages of at most LIST_STREAM_CHUNK items (none when empty).
   */
  | {
      kind: "list-stream";
      service: "runtime" | "images";
      rpc: DomainRpc;
      /** Field of the list response (proto wire object) holding the items. */
      from: string;
      /** Field of the stream message that carries them. */
      to: string;
    }
  /** In the CRI but not in Servin's services: answers UNIMPLEMENTED. */
  | { kind: "unimplemented" };

// Every RuntimeService method except the event stream, each served as unary.
// `satisfies` keeps this list complete: a method added to RuntimeService and
// forgotten here fails the typecheck below (RUNTIME_COMPLETE).
const RUNTIME_UNARY = [
  "version",
  "status",
  "runtimeConfig",
  "updateRuntimeConfig",
  "runPodSandbox",
  "stopPodSandbox",
  "removePodSandbox",
  "podSandboxStatus",
  "listPodSandbox",
  "podSandboxStats",
  "listPodSandboxStats",
  "listPodSandboxMetrics",
  "listMetricDescriptors",
  "portForward",
  "createContainer",
  "startContainer",
  "stopContainer",
  "removeContainer",
  "listContainers",
  "containerStatus",
  "updateContainerResources",
  "reopenContainerLog",
  "execSync",
  "exec",
  "attach",
  "containerStats",
  "listContainerStats",
  "checkpointContainer",
] as const satisfies readonly Exclude<RuntimeRpc, "getContainerEvents">[];

const IMAGE_UNARY = [
  "listImages",
  "imageStatus",
  "pullImage",
  "removeImage",
  "imageFsInfo",
] as const satisfies readonly ImageRpc[];

type Missing<All, Listed> = Exclude<All, Listed>;
// Compile-time completeness checks: both must be `never`.
const RUNTIME_COMPLETE: Missing<Exclude<RuntimeRpc, "getContainerEvents">, (typeof RUNTIME_UNARY)[number]>[] =
  [];
const IMAGE_COMPLETE: Missing<ImageRpc, (typeof IMAGE_UNARY)[number]>[] = [];
void RUNTIME_COMPLETE;
void IMAGE_COMPLETE;

/** Items per message of the Stream* list RPCs: far below 16 MiB for any realistic item. */
export const LIST_STREAM_CHUNK = 256;

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** gRPC method name (as in the .proto) → how it is served, for each service. */
export const RUNTIME_METHODS: Readonly<Record<string, MethodSpec>> = Object.freeze({
  ...Object.fromEntries(
    RUNTIME_UNARY.map((rpc) => [upperFirst(rpc), { kind: "unary", service: "runtime", rpc } as MethodSpec]),
  ),
  GetContainerEvents: { kind: "events", service: "runtime", rpc: "getContainerEvents" },
  StreamPodSandboxes: {
    kind: "list-stream",
    service: "runtime",
    rpc: "listPodSandbox",
    from: "items",
    to: "podSandboxes",
  },
  StreamContainers: {
    kind: "list-stream",
    service: "runtime",
    rpc: "listContainers",
    from: "containers",
    to: "containers",
  },
  StreamContainerStats: {
    kind: "list-stream",
    service: "runtime",
    rpc: "listContainerStats",
    from: "stats",
    to: "containerStats",
  },
  StreamPodSandboxStats: {
    kind: "list-stream",
    service: "runtime",
    rpc: "listPodSandboxStats",
    from: "stats",
    to: "podSandboxStats",
  },
  StreamPodSandboxMetrics: {
    kind: "list-stream",
    service: "runtime",
    rpc: "listPodSandboxMetrics",
    from: "podMetrics",
    to: "podSandboxMetrics",
  },
  // Pod-level resize is best effort for kubelet; Servin's services have no such operation yet.
  UpdatePodSandboxResources: { kind: "unimplemented" },
});

export const IMAGE_METHODS: Readonly<Record<string, MethodSpec>> = Object.freeze({
  ...Object.fromEntries(
    IMAGE_UNARY.map((rpc) => [upperFirst(rpc), { kind: "unary", service: "images", rpc } as MethodSpec]),
  ),
  StreamImages: { kind: "list-stream", service: "images", rpc: "listImages", from: "images", to: "images" },
});

/** Domain RPC → gRPC method name, for clients. */
export function grpcMethodName(rpc: DomainRpc): string {
  return upperFirst(rpc);
}

export const RUNTIME_RPCS: readonly RuntimeRpc[] = [...RUNTIME_UNARY, "getContainerEvents"];
export const IMAGE_RPCS: readonly ImageRpc[] = IMAGE_UNARY;
