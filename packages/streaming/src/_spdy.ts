/** SPDY/3.1 sessions as kubelet's clients open them: the HTTP upgrade handshake and a spdy-transport connection made to talk to Go's spdystream. */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
// @ts-expect-error spdy-transport ships no types; the few members used are typed in SpdyConnection/SpdyStream
import transport from "spdy-transport";
import type { SessionContext } from "./_context.js";

/** The parts of a spdy-transport stream this package uses (it is a node Duplex). */
export interface SpdyStream extends Duplex {
  id: number;
  headers: Record<string, string | undefined>;
  respond(status: number, headers: Record<string, string>, callback?: (err?: Error) => void): void;
  abort(code?: string, callback?: () => void): void;
}

export interface SpdyConnection {
  on(event: "stream", listener: (stream: SpdyStream) => void): this;
  on(event: "error" | "close", listener: (err?: Error) => void): this;
  end(callback?: () => void): void;
  destroyStreams(err?: Error): void;
  socket: Duplex;
}

const HUGE_WINDOW = 2 ** 52;

interface WindowSide {
  current: number;
  max: number;
  limit: number;
  lowWaterMark: number;
}

function openSide(side: WindowSide): void {
  side.current = HUGE_WINDOW;
  side.max = HUGE_WINDOW;
  side.limit = Number.POSITIVE_INFINITY;
  side.lowWaterMark = 0;
}

/**
 * Wraps `socket` (after a 101 answer, or a WebSocket tunnel) in a server-side SPDY connection.
 *
 * Two things differ between spdy-transport (written for browsers) and Go's spdystream, which
 * kubelet's clients use, and are bridged here:
 * - spdystream's SYN_STREAM carries only the caller's headers (`streamtype`, `port`, ...), no
 *   `:method`/`:path`; spdy-transport's parser rejects such a frame, so the two are filled in.
 * - spdystream implements no flow control: it never sends WINDOW_UPDATE, so a sender that honours
 *   the 64 KiB SPDY/3 window stalls after 64 KiB. Our send windows are opened wide; backpressure
 *   comes from TCP, as between kubelet and spdystream.
 */
export function createSpdyServerConnection(socket: Duplex): SpdyConnection {
  const connection = transport.connection.create(socket, {
    protocol: "spdy",
    isServer: true,
    // session-level WINDOW_UPDATEs for SPDY/3.1 peers (Node clients); spdystream ignores them
    autoSpdy31: true,
    // the SPDY/3 default: a peer that sends before our SETTINGS arrive sees this window, so updates must come at half of it
    windowSize: 64 * 1024,
    // DATA frames up to 64 KiB instead of 8 KiB: a quarter of the framing work per byte (SPDY allows 16 MiB)
    maxChunk: 64 * 1024,
  });
  const state = connection._spdyState;
  openSide(state.window.send);
  openSide(state.streamWindow.send);
  // a peer's SETTINGS_INITIAL_WINDOW_SIZE would shrink the stream send window again
  connection._setDefaultWindow = () => {};
  const parser = state.parser;
  const parseKVs = parser.parseKVs;
  const onSynHeadFrame = parser.onSynHeadFrame;
  parser.onSynHeadFrame = function (this: unknown, ...args: unknown[]) {
    // parseKVs is called synchronously inside onSynHeadFrame; its callback may run later (zlib)
    parser.parseKVs = (
      body: unknown,
      callback: (err: Error | null, headers?: Record<string, string>) => void,
    ) =>
      parseKVs.call(parser, body, (err: Error | null, headers?: Record<string, string>) => {
        if (!err && headers) {
          headers[":method"] ??= "POST";
          headers[":path"] ??= "/";
        }
        callback(err, headers);
      });
    try {
      return onSynHeadFrame.apply(parser, args);
    } finally {
      parser.parseKVs = parseKVs;
    }
  };
  return connection as SpdyConnection;
}

/** Values of a request header that may repeat or be comma-joined (`X-Stream-Protocol-Version`). */
/**
 * Answers the upgrade with 101 (naming the negotiated `protocol`, none for ""), replays the bytes read past
 * the request head, and makes the SPDY connection, tracked by the session so that its end tears it down.
 */
export function acceptSpdyUpgrade(
  socket: Duplex,
  head: Buffer,
  protocol: string,
  context: SessionContext,
): SpdyConnection {
  socket.write(
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
      (protocol === "" ? "" : `X-Stream-Protocol-Version: ${protocol}\r\n`) +
      "\r\n",
  );
  if (head.length > 0) socket.unshift(head);
  const connection = createSpdyServerConnection(socket);
  context.track(socket, () => connection.destroyStreams());
  return connection;
}

export function headerValues(req: IncomingMessage, name: string): string[] {
  const raw = req.headersDistinct[name.toLowerCase()] ?? [];
  return raw
    .flatMap((value) => value.split(","))
    .map((value) => value.trim())
    .filter((value) => value.length > 0);
}

/**
 * kubelet's httpstream.Handshake: the first protocol the client offers that the server supports;
 * "" when the client offered none (Kubernetes 1.0 clients). Undefined when nothing matches.
 */
export function negotiateProtocol(
  offered: readonly string[],
  supported: readonly string[],
): string | undefined {
  if (offered.length === 0) return "";
  return offered.find((protocol) => supported.includes(protocol));
}

export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? "").toLowerCase() === "spdy/3.1";
}
