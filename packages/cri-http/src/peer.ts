/**
 * Peer admission for TCP listeners: asks `trustPeer` once per connection who may drive the API,
 * as a 0660 root-owned unix socket would decide by file permissions.
 */
import type { Socket } from "node:net";
import type { MiddlewareHandler } from "hono";
import { errorBody } from "./errors.js";

/** The two ends of one TCP connection, as the server sees them. */
export interface TcpPeer {
  /** The client's address (`127.0.0.1`, `::1`, `::ffff:127.0.0.1`…). */
  remoteAddress: string;
  remotePort: number;
  /** The server's own end of the connection. */
  localAddress: string;
  localPort: number;
}

/** Decides whether the client at the far end of a connection may use the API. */
export type TrustPeer = (peer: TcpPeer) => boolean | Promise<boolean>;

export const DEFAULT_PEER_DENIED =
  "this connection's user may not use servin: run the client as root, or ask the administrator to admit your user";

/** The connection's ends, read from the Node adapter's socket (`c.env.incoming`); undefined without one. */
export function tcpPeerOf(env: unknown): TcpPeer | undefined {
  const socket = (env as { incoming?: { socket?: Socket } } | undefined)?.incoming?.socket;
  if (!socket) return undefined;
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return undefined;
  return { remoteAddress, remotePort, localAddress, localPort };
}

/**
 * Answers 403 unless `trustPeer` admits the connection's peer. The verdict is kept per socket, never
 * per address: a keep-alive connection is decided once, and a new connection (even from a reused
 * port) is asked afresh. A request without a socket (in-process `app.request`) or a failing lookup is denied.
 */
export function peerAdmission(
  trustPeer: TrustPeer,
  publicPaths: string[],
  deniedMessage = DEFAULT_PEER_DENIED,
): MiddlewareHandler {
  const verdicts = new WeakMap<object, Promise<boolean>>();
  const decide = (socket: object, peer: TcpPeer): Promise<boolean> => {
    let verdict = verdicts.get(socket);
    if (!verdict) {
      verdict = Promise.resolve()
        .then(() => trustPeer(peer))
        .then(
          (ok) => ok === true,
          () => false,
        );
      verdicts.set(socket, verdict);
    }
    return verdict;
  };
  return async (c, next) => {
    if (publicPaths.includes(c.req.path)) return next();
    const socket = (c.env as { incoming?: { socket?: object } } | undefined)?.incoming?.socket;
    const peer = tcpPeerOf(c.env);
    if (socket && peer && (await decide(socket, peer))) return next();
    // The body is left unread (it may be a large upload): end the connection with the answer.
    c.header("connection", "close");
    return c.json(errorBody("PermissionDenied", deniedMessage), 403);
  };
}
