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
  IMAGE_RPC_NAMES,
  isRpcName,
  type RequestOf,
  type ResponseOf,
  RPC_NAMES,
  type RpcName,
  RUNTIME_RPC_NAMES,
} from "./rpcs.js";
export { formatRfc3339Nanos, parseTimestamp } from "./timestamp.js";
