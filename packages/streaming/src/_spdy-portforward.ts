/** PortForward over SPDY (`portforward.k8s.io`): one error+data stream pair per forwarded connection, keyed by `requestid`. */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { SessionContext } from "./_context.js";
import { rejectUpgrade } from "./_reject.js";
import { endWritable } from "./_session.js";
import {
  acceptSpdyUpgrade,
  headerValues,
  negotiateProtocol,
  type SpdyConnection,
  type SpdyStream,
} from "./_spdy.js";
import { type PendingRequest, parsePort } from "./requests.js";
import type { StreamingRuntime } from "./runtime.js";

const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";

type PortForwardPending = Extract<PendingRequest, { kind: "portforward" }>;

/** Answers the SPDY upgrade for a port-forward URL and serves the connection. */
export function serveSpdyPortForward(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  request: PortForwardPending,
  runtime: StreamingRuntime,
  context: SessionContext,
): void {
  const offered = headerValues(req, "x-stream-protocol-version");
  const protocol = negotiateProtocol(offered, [PORT_FORWARD_PROTOCOL]);
  if (protocol === undefined) {
    rejectUpgrade(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(offered)}, server accepts ["${PORT_FORWARD_PROTOCOL}"]`,
      { "X-Accepted-Stream-Protocol-Versions": PORT_FORWARD_PROTOCOL },
    );
    context.finish();
    return;
  }
  const connection = acceptSpdyUpgrade(socket, head, protocol, context);
  servePortForwardConnection(connection, request, runtime, context);
}

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Serves port-forward stream pairs on an established SPDY connection (also used inside a WebSocket tunnel). */
export function servePortForwardConnection(
  connection: SpdyConnection,
  request: PortForwardPending,
  runtime: StreamingRuntime,
  context: SessionContext,
): void {
  connection.on("error", () => {});
  const pairs = new Map<string, Pair>();
  let forwarding = 0;
  context.signal.addEventListener(
    "abort",
    () => {
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      pairs.clear();
    },
    { once: true },
  );

  connection.on("stream", (stream) => {
    stream.on("error", () => {});
    const type = stream.headers.streamtype;
    if (type !== "data" && type !== "error") {
      stream.abort();
      return;
    }
    stream.respond(200, {});
    // kubectl < 1.4 sent no request id: the error stream's id names the pair, the data stream is 2 above it
    const requestId = stream.headers.requestid ?? String(type === "error" ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (pair === undefined && pairs.size + forwarding >= context.maxForwards) {
      // spdy-transport does not enforce a stream limit: a client opening pairs without end must not open sockets without end
      if (type === "error") {
        stream.end(
          `port-forward: too many concurrent connections in this session (limit ${context.maxForwards})`,
        );
      } else {
        stream.abort();
      }
      return;
    }
    if (pair === undefined) {
      const timer = setTimeout(() => {
        pairs.delete(requestId);
        const lone = pair?.data ?? pair?.error;
        lone?.abort();
      }, context.streamCreationTimeoutMs);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    if (pair[type] !== undefined) {
      stream.abort();
      return;
    }
    pair[type] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      forwarding++;
      context.run(
        forward(pair.data, pair.error, request, runtime, context.signal).finally(() => {
          forwarding--;
        }),
      );
    }
  });
}

async function forward(
  data: SpdyStream,
  error: SpdyStream,
  request: PortForwardPending,
  runtime: StreamingRuntime,
  sessionSignal: AbortSignal,
): Promise<void> {
  // the client never writes on the error stream; drain it so it can close
  error.resume();
  const controller = new AbortController();
  const abort = () => controller.abort();
  sessionSignal.addEventListener("abort", abort, { once: true });
  data.once("close", abort);
  data.once("error", abort);
  try {
    const port = parsePort(data.headers.port ?? "");
    if (port instanceof Error) throw port;
    if (request.ports.length > 0 && !request.ports.includes(port)) {
      throw new Error(`port ${port} was not requested for pod sandbox "${request.podSandboxId}"`);
    }
    try {
      await runtime.portForward({ podSandboxId: request.podSandboxId, port }, data, controller.signal);
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`error forwarding port ${port} to pod ${request.podSandboxId}: ${message}`);
    }
    await Promise.all([endWritable(data, controller.signal), endWritable(error, controller.signal)]);
  } catch (failure) {
    if (!controller.signal.aborted) {
      error.end((failure as Error).message);
      data.end();
    }
  } finally {
    sessionSignal.removeEventListener("abort", abort);
    if (controller.signal.aborted) {
      if (!data.destroyed) data.abort();
      if (!error.destroyed) error.abort();
    }
  }
}
