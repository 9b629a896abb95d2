/** The streaming server: issues single-use URLs for Exec/Attach/PortForward and serves them over SPDY/3.1 and WebSocket. */
import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer, type ServerOptions as TlsOptions } from "node:https";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { SessionContext } from "./_context.js";
import { rejectUpgrade } from "./_reject.js";
import type { UpgradeServer } from "./_serve.js";
import {
  type AttachRequest,
  checkAttach,
  checkExec,
  checkPortForward,
  type ExecRequest,
  type PendingRequest,
  type PortForwardRequest,
} from "./requests.js";
import type { StreamingRuntime } from "./runtime.js";
import { TokenCache } from "./tokens.js";

export interface StreamingServerOptions {
  runtime: StreamingRuntime;
  /** Address to listen on; default 127.0.0.1 (kubelet and crictl run on the node). */
  address?: string;
  /** Port to listen on; default 0, a free port. */
  port?: number;
  /** Serve https/wss with these (key, cert, ...). */
  tls?: TlsOptions;
  /** Lifetime of an issued URL; default 60 s (kubelet's streaming cache). */
  tokenTtlMs?: number;
  /** Most issued-but-unused URLs; default 1000 (kubelet's in-flight limit). */
  maxPendingRequests?: number;
  /** A connection with no traffic either way for this long is closed; default 4 h (kubelet's default). */
  streamIdleTimeoutMs?: number;
  /** How long a client may take to open its streams after the upgrade; default 30 s (kubelet's). */
  streamCreationTimeoutMs?: number;
  /** Most connections served at once (further upgrades get 429), and most forwarded connections in one port-forward session. Default 256. */
  maxConcurrentStreams?: number;
  /**
   * With a tty, how long to wait for the client's first terminal size before starting the process, so the
   * terminal is created at that size (clients send it at once; the wait ends when it comes). Default 1 s.
   */
  initialTerminalSizeWaitMs?: number;
  /** After a session ends, how long the client gets to close before the socket is destroyed; default 5 s. */
  closeGraceMs?: number;
}

export interface StreamingServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Issues a single-use URL for an Exec request (answer of the CRI Exec RPC). */
  getExec(req: ExecRequest): { url: string };
  /** Issues a single-use URL for an Attach request. */
  getAttach(req: AttachRequest): { url: string };
  /** Issues a single-use URL for a PortForward request. */
  getPortForward(req: PortForwardRequest): { url: string };
  /** Issued URLs not yet used or expired, and connections being served. */
  stats(): { pendingRequests: number; activeSessions: number };
  /** Stops listening, ends every session (the runtime side included), forgets every URL. */
  close(): Promise<void>;
}

/** The session code (ws, spdy-transport), loaded once by the first upgrade any server sees. */
let loadingServe: Promise<typeof import("./_serve.js")> | undefined;
const loadServe = () => {
  loadingServe ??= import("./_serve.js").catch((err: unknown) => {
    loadingServe = undefined;
    throw err;
  });
  return loadingServe;
};

const ROUTE = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]{1,64})(?:\?.*)?$/;

/**
 * Starts a streaming server.
 * @example
 * const server = await startStreamingServer({ runtime });
 * const { url } = server.getExec({ containerId: "3f2a", cmd: ["sh"], stdin: true, stdout: true, tty: true });
 * // kubelet or crictl connects to `url` with SPDY/3.1 or WebSocket
 * await server.close();
 */
export async function startStreamingServer(options: StreamingServerOptions): Promise<StreamingServer> {
  const tokens = new TokenCache<PendingRequest>({
    ttlMs: options.tokenTtlMs,
    maxPending: options.maxPendingRequests,
  });
  const maxSessions = options.maxConcurrentStreams ?? 256;
  const sessions = new Set<SessionContext>();
  const drained: Array<() => void> = [];
  let upgrades: UpgradeServer | undefined;
  let closed = false;
  const server: Server = options.tls ? createHttpsServer(options.tls) : createHttpServer();
  const sweeper = setInterval(() => tokens.sweep(), 10_000);
  sweeper.unref();

  server.on("request", (req, res) => {
    const status = ROUTE.test(req.url ?? "") ? 400 : 404;
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
    res.end(
      status === 400
        ? "streaming: expected an upgrade to SPDY/3.1 or websocket\n"
        : `streaming: no such path ${JSON.stringify((req.url ?? "").slice(0, 64))}\n`,
    );
  });

  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    // many small frames (SYN_REPLY, status, channel messages): no Nagle delay on them
    (socket as Duplex & { setNoDelay?: (noDelay: boolean) => void }).setNoDelay?.(true);
    const match = ROUTE.exec(req.url ?? "");
    if (match === null) {
      rejectUpgrade(socket, 404, `streaming: no such path ${JSON.stringify((req.url ?? "").slice(0, 64))}`);
      return;
    }
    const upgrade = (req.headers.upgrade ?? "").toLowerCase();
    const spdy = upgrade === "spdy/3.1";
    if (!spdy && upgrade !== "websocket") {
      rejectUpgrade(
        socket,
        400,
        `streaming: unsupported upgrade ${JSON.stringify(req.headers.upgrade ?? "")} (expected SPDY/3.1 or websocket)`,
      );
      return;
    }
    if (sessions.size >= maxSessions) {
      rejectUpgrade(socket, 429, `streaming: too many concurrent streams (limit ${maxSessions})`);
      return;
    }
    const [, kind, token] = match;
    const request = tokens.take(token!);
    if (request === undefined || request.kind !== kind) {
      rejectUpgrade(socket, 404, "streaming: unknown, used or expired token");
      return;
    }
    const start = (serving: UpgradeServer) => {
      if (closed) {
        socket.destroy();
        return;
      }
      const context = new SessionContext({
        streamIdleTimeoutMs: options.streamIdleTimeoutMs ?? 4 * 3600_000,
        streamCreationTimeoutMs: options.streamCreationTimeoutMs ?? 30_000,
        closeGraceMs: options.closeGraceMs ?? 5_000,
        maxForwards: maxSessions,
        initialSizeWaitMs: options.initialTerminalSizeWaitMs ?? 1_000,
        onDone: () => {
          sessions.delete(context);
          if (sessions.size === 0) for (const resolve of drained.splice(0)) resolve();
        },
      });
      sessions.add(context);
      serving.serve(spdy, req, socket, head, request, options.runtime, context);
    };
    if (upgrades) {
      start(upgrades);
      return;
    }
    // The first upgrade loads the session code; the socket buffers what the client sends meanwhile.
    loadServe().then(
      (mod) => {
        upgrades ??= mod.createUpgradeServer();
        start(upgrades);
      },
      (err: unknown) =>
        rejectUpgrade(socket, 500, `streaming: cannot load the session code: ${(err as Error).message}`),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.address ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `${options.tls ? "https" : "http"}://${host}:${address.port}`;
  const issue = (request: PendingRequest) => ({ url: `${url}/${request.kind}/${tokens.insert(request)}` });

  return {
    url,
    getExec: (req) => issue(checkExec(req)),
    getAttach: (req) => issue(checkAttach(req)),
    getPortForward: (req) => issue(checkPortForward(req)),
    stats: () => ({ pendingRequests: tokens.size, activeSessions: sessions.size }),
    async close() {
      closed = true;
      clearInterval(sweeper);
      tokens.clear();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      const idle = new Promise<void>((resolve) => (sessions.size === 0 ? resolve() : drained.push(resolve)));
      for (const session of sessions) session.abort();
      server.closeAllConnections();
      await Promise.all([stopped, idle]);
      upgrades?.close();
    },
  };
}
