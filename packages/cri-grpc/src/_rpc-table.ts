/** The gRPC method tables of the CRI services, derived from the one RPC registry (cri-messages' RPCS). */
import { RPC_NAMES, RPCS, type RpcName, type RpcService } from "@servin/cri-messages";

/** How a gRPC method is served. */
export type MethodSpec =
  /** Request → service method → response. */
  | { kind: "unary"; rpc: RpcName }
  /** Server stream fed by the service's AsyncIterable until the client cancels. */
  | { kind: "events"; rpc: RpcName }
  /**
   * The CRI's Stream* variants of the List RPCs: the same request filter, the
   * list split into messages of at most LIST_STREAM_CHUNK items (none when empty).
   */
  | {
      kind: "list-stream";
      rpc: RpcName;
      /** Field of the list response (proto wire object) holding the items. */
      from: string;
      /** Field of the stream message that carries them. */
      to: string;
    }
  /** In the CRI but not in Servin's services: answers UNIMPLEMENTED. */
  | { kind: "unimplemented" };

/** Items per message of the Stream* list RPCs: far below 16 MiB for any realistic item. */
export const LIST_STREAM_CHUNK = 256;

function methodsOf(service: RpcService): Record<string, MethodSpec> {
  const table: Record<string, MethodSpec> = {};
  for (const rpc of RPC_NAMES) {
    const spec = RPCS[rpc];
    if (spec.service !== service) continue;
    table[spec.grpc] = { kind: spec.kind === "server-stream" ? "events" : "unary", rpc };
    if (spec.listStream)
      table[spec.listStream.grpc] = {
        kind: "list-stream",
        rpc,
        from: spec.listStream.from,
        to: spec.listStream.to,
      };
  }
  return table;
}

/** gRPC method name (as in the .proto) → how it is served, for each service. */
export const RUNTIME_METHODS: Readonly<Record<string, MethodSpec>> = Object.freeze({
  ...methodsOf("runtime"),
  // Pod-level resize is best effort for kubelet; Servin's services have no such operation yet.
  UpdatePodSandboxResources: { kind: "unimplemented" },
});

export const IMAGE_METHODS: Readonly<Record<string, MethodSpec>> = Object.freeze(methodsOf("image"));
