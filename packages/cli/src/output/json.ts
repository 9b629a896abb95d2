/** Prints a CRI answer as the HTTP API's snake_case JSON, so `servin … --json` and curl agree. */
import { encodeResponse, type ResponseOf, type RpcName } from "@servin/cri-messages";

export function printJson<R extends RpcName>(rpc: R, value: ResponseOf<R>): void {
  process.stdout.write(`${JSON.stringify(encodeResponse(rpc, value, "json"), null, 2)}\n`);
}
