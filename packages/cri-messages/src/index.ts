/** @servin/cri-messages: CRI wire messages ⇄ Servin domain types, for HTTP/JSON and gRPC (proto-loader objects). */
export {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  MalformedWire,
  type WireFormat,
} from "./codec.js";
export {
  type CriServices,
  dispatchRpc,
  IMAGE_RPC_NAMES,
  isRpcName,
  type ListStreamSpec,
  type RequestOf,
  type ResponseOf,
  type ResultOf,
  RPC_NAMES,
  RPCS,
  type RpcKind,
  type RpcName,
  type RpcService,
  type RpcSpec,
  RUNTIME_RPC_NAMES,
} from "./rpcs.js";
export { formatRfc3339Nanos, parseTimestamp } from "./timestamp.js";
