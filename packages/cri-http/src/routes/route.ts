/** The shape of one HTTP route: a POST path bound to one CRI RPC. */
import type { RpcName } from "@servin/cri-messages";

export interface CriRoute {
  /** Absolute path, e.g. `/v1/runtime/sandbox/create`. */
  path: string;
  rpc: RpcName;
  /** Streams newline-delimited JSON instead of one JSON answer. */
  stream?: boolean;
}
