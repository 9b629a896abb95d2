/** Test helpers: gRPC by hand over Node's http2 client (any :authority), and raw HTTP/2 frames. */
import {
  type ClientHttp2Session,
  type ClientSessionOptions,
  connect,
  type OutgoingHttpHeaders,
} from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import { criServiceDefinitions } from "../src/proto.js";

const maybeVersion = criServiceDefinitions("v1").RuntimeService.Version;
if (!maybeVersion) throw new Error("no Version method");
const versionDef = maybeVersion;
export const VERSION_PATH = versionDef.path;

/** A 5-byte-prefixed gRPC message (uncompressed). */
export function grpcMessage(body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  body.copy(out, 5);
  return out;
}

/** A framed VersionRequest. */
export const VERSION_REQUEST = grpcMessage(versionDef.requestSerialize({ version: "v1" }));

/** An HTTP/2 session to a unix socket; `options` reach http2.connect (padding strategy, …). */
export function h2Connect(socketPath: string, options: ClientSessionOptions = {}): ClientHttp2Session {
  const session = connect("http://localhost", { ...options, createConnection: () => netConnect(socketPath) });
  session.on("error", () => undefined);
  return session;
}

export interface GrpcResult {
  status: number | undefined;
  message?: string;
  response?: { runtimeName?: string; runtimeApiVersion?: string };
}

/**
 * One unary gRPC call by hand: POST with `:authority` as given, the framed
 * request, then the response message and grpc-status from the trailers.
 */
export function h2Version(
  session: ClientHttp2Session,
  authority: string,
  opts: { headers?: OutgoingHttpHeaders; trailers?: OutgoingHttpHeaders; weight?: number } = {},
): Promise<GrpcResult> {
  return h2VersionRaw(session, authority, VERSION_REQUEST, opts);
}

/** h2Version with the framed request bytes given. */
export function h2VersionRaw(
  session: ClientHttp2Session,
  authority: string,
  request: Buffer,
  opts: { headers?: OutgoingHttpHeaders; trailers?: OutgoingHttpHeaders; weight?: number } = {},
): Promise<GrpcResult> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      {
        ":method": "POST",
        ":path": VERSION_PATH,
        ":authority": authority,
        "content-type": "application/grpc",
        te: "trailers",
        ...opts.headers,
      },
      { waitForTrailers: opts.trailers !== undefined, weight: opts.weight },
    );
    if (opts.trailers)
      stream.on("wantTrailers", () => stream.sendTrailers(opts.trailers as OutgoingHttpHeaders));
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let message: string | undefined;
    stream.on("response", (headers) => {
      // A Trailers-Only answer carries the status in the headers.
      if (headers["grpc-status"] !== undefined) status = Number(headers["grpc-status"]);
      if (headers["grpc-message"] !== undefined)
        message = decodeURIComponent(String(headers["grpc-message"]));
    });
    stream.on("trailers", (trailers) => {
      status = Number(trailers["grpc-status"]);
      if (trailers["grpc-message"] !== undefined)
        message = decodeURIComponent(String(trailers["grpc-message"]));
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    stream.on("close", () => {
      const body = Buffer.concat(chunks);
      const response =
        body.length >= 5
          ? (versionDef.responseDeserialize(body.subarray(5)) as GrpcResult["response"])
          : undefined;
      if (status === undefined && stream.rstCode) {
        reject(new Error(`stream reset with code ${stream.rstCode}`));
        return;
      }
      resolve({ status, message, response });
    });
    stream.end(request);
  });
}

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** One HTTP/2 frame. */
export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export interface RawFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/**
 * Sends `bytes` on a fresh raw connection (paced: one write per `paceMs`; `end`:
 * then half-close) and collects what the server sends until it closes the
 * connection (resolves with the frames it could parse), or until `closeWithinMs`
 * (default 5 s) passes: then `closed` is false and the connection is dropped by us.
 */
export function rawExchange(
  socketPath: string,
  bytes: Buffer[],
  opts: { end?: boolean; paceMs?: number; closeWithinMs?: number } = {},
): Promise<{ frames: RawFrame[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect(socketPath);
    let closedByServer = true;
    const deadline = setTimeout(() => {
      closedByServer = false;
      socket.destroy();
    }, opts.closeWithinMs ?? 5000);
    const received: Buffer[] = [];
    socket.on("data", (c: Buffer) => received.push(c));
    socket.on("error", () => undefined);
    socket.on("connect", async () => {
      for (const b of bytes) {
        socket.write(b);
        if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
      }
      if (opts.end) socket.end();
    });
    socket.on("close", () => {
      clearTimeout(deadline);
      const all = Buffer.concat(received);
      const frames: RawFrame[] = [];
      for (let pos = 0; pos + 9 <= all.length; ) {
        const length = all.readUIntBE(pos, 3);
        frames.push({
          type: all[pos + 3] as number,
          flags: all[pos + 4] as number,
          streamId: all.readUInt32BE(pos + 5) & 0x7fffffff,
          payload: all.subarray(pos + 9, pos + 9 + length),
        });
        pos += 9 + length;
      }
      resolve({ frames, closed: closedByServer });
    });
  });
}

/** HTTP/2 frame types and flags (RFC 9113 §6), for tests that write frames by hand. */
export const H2 = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
} as const;
