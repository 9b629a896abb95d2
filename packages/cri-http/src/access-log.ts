/** One access record per HTTP request, refused ones (401, 403, 404, 405, 413) included: for access logs. */
import type { RpcName } from "@servin/cri-messages";
import type { MiddlewareHandler } from "hono";
import { type TcpPeer, tcpPeerOf } from "./peer.js";
import { criRoutes } from "./routes/index.js";

/** What an access log line says about one request. */
export interface AccessRecord {
  method: string;
  /** The request path as sent (client text: bound it before printing, as every Servin logger does). */
  path: string;
  /** The CRI RPC the path names, when it names one. */
  rpc?: RpcName;
  /** The HTTP status answered. */
  status: number;
  /** Until the response headers (a streamed body, PullImage progress or events, may go on after). */
  durationMs: number;
  /** The connection's ends, when served by the Node adapter. */
  peer?: TcpPeer;
}

/** Receives one record per request, once its answer is known; it must not throw. */
export type AccessObserver = (record: AccessRecord) => void;

const RPC_OF_PATH: ReadonlyMap<string, RpcName> = new Map(criRoutes.map((r) => [r.path, r.rpc]));

/**
 * The middleware behind `CriAppOptions.onAccess`; registered before the access check, so that the
 * 401s and 403s it answers are seen too.
 *
 * @example
 * app.use("*", accessLog((r) => console.log(r.method, r.path, r.status, r.durationMs.toFixed(1))));
 */
export function accessLog(observe: AccessObserver): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const rpc = RPC_OF_PATH.get(c.req.path);
      const peer = tcpPeerOf(c.env);
      try {
        observe({
          method: c.req.method,
          path: c.req.path,
          ...(rpc ? { rpc } : {}),
          // Hono has set the answer (onError's included) by the time next() returns.
          status: c.res.status,
          durationMs: performance.now() - started,
          ...(peer ? { peer } : {}),
        });
      } catch {
        // An access log must never fail a request.
      }
    }
  };
}
