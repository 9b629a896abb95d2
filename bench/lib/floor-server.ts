/**
 * The floor of a gRPC call from the bench's client (run as its own process by `floor-responder.ts`):
 * an HTTP/2 server on a unix socket that answers every request at once, without decoding its headers
 * or its message, and without a handler. What a call to it costs is what no runtime can take off: the
 * client's own work, two trips through the kernel, and waking each process.
 *
 * The request's gRPC message is four bytes, the size of the answer wanted (so that the floor of a
 * ListContainers carries as many bytes as the daemons' answers). The answer is one valid protobuf
 * message of that size: a single unknown length-delimited field, which every decoder skips. Flow
 * control is the client's (its windows and frame size), as for any server.
 *
 * Run: node --import tsx bench/lib/floor-server.ts SOCKET
 */
import { rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";

const PREFACE = 24;
const FRAME_HEADER = 9;
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

// HPACK, literal fields without indexing, so that the client's table is never touched:
// :status 200 (static index 8), content-type (static name 31) application/grpc.
const RESPONSE_HEADERS = Buffer.concat([
  Buffer.from([0x88, 0x0f, 0x10, 16]),
  Buffer.from("application/grpc"),
]);
// grpc-status: 0 (a new name, literal without indexing).
const TRAILERS = Buffer.concat([Buffer.from([0x00, 11]), Buffer.from("grpc-status"), Buffer.from([1, 0x30])]);

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream, 5);
  payload.copy(out, FRAME_HEADER);
  return out;
}

/**
 * A gRPC message frame whose protobuf message is `size` bytes: one field 15 of wire type 2 (tag 0x7a),
 * its length as a varint, then that many zero bytes. Size 1 cannot be written so (a field is at
 * least 2 bytes) and gives 2.
 */
function answerMessage(size: number): Buffer {
  const wanted = size === 1 ? 2 : size;
  const out = Buffer.alloc(5 + wanted);
  out.writeUInt32BE(wanted, 1);
  if (wanted === 0) return out;
  let lenBytes = 1;
  while (wanted - 1 - lenBytes >= 2 ** (7 * lenBytes)) lenBytes++;
  out[5] = 0x7a;
  let v = wanted - 1 - lenBytes;
  let at = 6;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at] = v;
  return out;
}

interface Pending {
  /** What is left of the answer's gRPC bytes to send as DATA. */
  rest: Buffer;
  window: number;
}

function serveConnection(socket: Socket): void {
  let buf: Buffer = Buffer.alloc(0);
  let prefaceSeen = false;
  let connWindow = 65_535;
  let initialWindow = 65_535;
  let maxFrame = 16_384;
  const bodies = new Map<number, Buffer[]>();
  const sending = new Map<number, Pending>();
  const out: Buffer[] = [];

  const pump = () => {
    for (const [stream, p] of sending) {
      while (p.rest.length > 0 && p.window > 0 && connWindow > 0) {
        const n = Math.min(p.rest.length, p.window, connWindow, maxFrame);
        out.push(frame(DATA, 0, stream, p.rest.subarray(0, n)));
        p.rest = p.rest.subarray(n);
        p.window -= n;
        connWindow -= n;
      }
      if (p.rest.length === 0) {
        out.push(frame(HEADERS, END_HEADERS | END_STREAM, stream, TRAILERS));
        sending.delete(stream);
      }
    }
  };
  const answer = (stream: number) => {
    const body = Buffer.concat(bodies.get(stream) ?? []);
    bodies.delete(stream);
    const size = body.length >= 9 ? body.readUInt32BE(5) : 0;
    out.push(frame(HEADERS, END_HEADERS, stream, RESPONSE_HEADERS));
    sending.set(stream, { rest: answerMessage(size), window: initialWindow });
  };

  socket.write(frame(SETTINGS, 0, 0, Buffer.alloc(0)));
  socket.on("error", () => undefined);
  socket.on("data", (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    if (!prefaceSeen) {
      if (buf.length < PREFACE) return;
      buf = buf.subarray(PREFACE);
      prefaceSeen = true;
    }
    while (buf.length >= FRAME_HEADER) {
      const length = buf.readUIntBE(0, 3);
      if (buf.length < FRAME_HEADER + length) break;
      const type = buf[3] as number;
      const flags = buf[4] as number;
      const stream = buf.readUInt32BE(5) & 0x7fff_ffff;
      const payload = buf.subarray(FRAME_HEADER, FRAME_HEADER + length);
      buf = buf.subarray(FRAME_HEADER + length);
      if (type === SETTINGS && !(flags & ACK)) {
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          const id = payload.readUInt16BE(i);
          const value = payload.readUInt32BE(i + 2);
          if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
            for (const p of sending.values()) p.window += value - initialWindow;
            initialWindow = value;
          } else if (id === SETTINGS_MAX_FRAME_SIZE) maxFrame = value;
        }
        out.push(frame(SETTINGS, ACK, 0, Buffer.alloc(0)));
      } else if (type === PING && !(flags & ACK)) {
        out.push(frame(PING, ACK, 0, Buffer.from(payload)));
      } else if (type === WINDOW_UPDATE) {
        const inc = payload.readUInt32BE(0) & 0x7fff_ffff;
        if (stream === 0) connWindow += inc;
        else {
          const p = sending.get(stream);
          if (p) p.window += inc;
        }
      } else if (type === HEADERS) {
        bodies.set(stream, []);
        if (flags & END_STREAM) answer(stream);
      } else if (type === DATA) {
        const data = flags & PADDED ? payload.subarray(1, payload.length - (payload[0] as number)) : payload;
        bodies.get(stream)?.push(Buffer.from(data));
        // The request's bytes count against our receive windows: give them back at once.
        if (length > 0) {
          const inc = Buffer.alloc(4);
          inc.writeUInt32BE(length);
          out.push(frame(WINDOW_UPDATE, 0, 0, inc), frame(WINDOW_UPDATE, 0, stream, inc));
        }
        if (flags & END_STREAM) answer(stream);
      } else if (type === RST_STREAM) {
        bodies.delete(stream);
        sending.delete(stream);
      } else if (type === GOAWAY) {
        socket.end();
      }
    }
    pump();
    if (out.length > 0) socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
    out.length = 0;
  });
}

const socketPath = process.argv[2];
if (socketPath) {
  rmSync(socketPath, { force: true });
  const server = createServer(serveConnection);
  server.listen(socketPath, () => process.stdout.write("listening\n"));
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
