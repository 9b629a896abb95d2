/** The HTTP/JSON routes, derived from the one RPC registry (cri-messages' RPCS): one POST path per RPC, plus aliases. */
import { RPC_NAMES, RPCS } from "@servin/cri-messages";
import type { CriRoute } from "./route.js";

export type { CriRoute } from "./route.js";

/**
 * Every CRI route of the HTTP/JSON API, RuntimeService then ImageService; the
 * server-stream RPC (`/v1/runtime/container/events`) answers newline-delimited JSON.
 *
 * @example
 * criRoutes.find((r) => r.rpc === "listContainers")?.path; // "/v1/runtime/container/list"
 */
export const criRoutes: readonly CriRoute[] = Object.freeze(
  RPC_NAMES.flatMap((rpc) =>
    RPCS[rpc].http.map(
      (path): CriRoute => (RPCS[rpc].kind === "server-stream" ? { path, rpc, stream: true } : { path, rpc }),
    ),
  ),
);
