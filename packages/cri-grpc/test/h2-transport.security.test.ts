/**
 * Hostile and broken gRPC-over-HTTP/2 input, frame by frame, against the real server on a unix socket:
 * each is refused with a status or error code that names it, ends at most its own stream or
 * connection, and the server goes on serving.
 */
import { connect as netConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeHeaderBlock, type HeaderField, HpackDecoder } from "../src/_hpack.js";
import type { CriGrpcClient } from "../src/index.js";
import {
  frame,
  grpcMessage,
  H2,
  PREFACE,
  type RawFrame,
  rawExchange,
  VERSION_PATH,
  VERSION_REQUEST,
} from "./_h2.js";
import { until } from "./_helpers.js";
import { type MemoryGrpcServer, startMemoryGrpcServer } from "./_memory-services.js";

const {
  DATA,
  HEADERS,
  RST_STREAM,
  SETTINGS: SETTINGS_TYPE,
  PING,
  GOAWAY,
  WINDOW_UPDATE,
  CONTINUATION,
  END_STREAM,
  END_HEADERS,
  ACK,
} = H2;

const SETTINGS = frame(SETTINGS_TYPE, 0, 0);

let fixture: MemoryGrpcServer;
let socketPath: string;
let cri: CriGrpcClient;

beforeAll(async () => {
  fixture = await startMemoryGrpcServer({
    channelOptions: { "grpc.max_receive_message_length": 1024 * 1024 },
  });
  ({ socketPath, cri } = fixture);
});

afterAll(async () => {
  await fixture?.close();
});

function request(overrides: Record<string, string | undefined> = {}): Buffer {
  const fields: Record<string, string | undefined> = {
    ":method": "POST",
    ":scheme": "http",
    ":path": VERSION_PATH,
    ":authority": "/run/servin/servin.sock",
    "content-type": "application/grpc",
    te: "trailers",
    ...overrides,
  };
  const list: HeaderField[] = [];
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) list.push({ name, value });
  return encodeHeaderBlock(list);
}

/** The header fields the server sent on `streamId`, in order, all blocks together. */
function headersOf(frames: RawFrame[], streamId: number): Record<string, string> {
  const decoder = new HpackDecoder();
  const out: Record<string, string> = {};
  for (const f of frames) {
    if (f.type !== HEADERS || f.streamId !== streamId) continue;
    for (const { name, value } of decoder.decode(f.payload)) out[name] = value;
  }
  return out;
}

async function exchange(bytes: Buffer[]): Promise<RawFrame[]> {
  // The server keeps the connection open after answering: collect for a moment, then drop it.
  const { frames } = await rawExchange(socketPath, [PREFACE, SETTINGS, ...bytes], { closeWithinMs: 400 });
  return frames;
}

async function expectServerAlive(): Promise<void> {
  await expect(cri.version({})).resolves.toMatchObject({ runtimeApiVersion: "v1" });
}

describe("gRPC framing of a request", () => {
  it.each([
    [
      "a compressed message without grpc-encoding",
      [frame(HEADERS, END_HEADERS, 1, request()), frame(DATA, END_STREAM, 1, Buffer.from([1, 0, 0, 0, 0]))],
      "12",
      /compressed messages are not supported/,
    ],
    [
      "a compressed message with grpc-encoding gzip",
      [
        frame(HEADERS, END_HEADERS, 1, request({ "grpc-encoding": "gzip" })),
        frame(DATA, END_STREAM, 1, Buffer.from([1, 0, 0, 0, 0])),
      ],
      "12",
      /compressed messages are not supported/,
    ],
    [
      "a message announcing more than the receive limit",
      [frame(HEADERS, END_HEADERS, 1, request()), frame(DATA, 0, 1, Buffer.from([0, 0x7f, 0, 0, 0]))],
      "8",
      /larger than max \(2130706432 vs 1048576\)/,
    ],
    [
      "no request message",
      [frame(HEADERS, END_HEADERS | END_STREAM, 1, request())],
      "3",
      /exactly one request message, got 0/,
    ],
    [
      "two request messages",
      [
        frame(HEADERS, END_HEADERS, 1, request()),
        frame(DATA, END_STREAM, 1, Buffer.concat([VERSION_REQUEST, VERSION_REQUEST])),
      ],
      "3",
      /more than one request message/,
    ],
    [
      "a message cut short",
      [frame(HEADERS, END_HEADERS, 1, request()), frame(DATA, END_STREAM, 1, VERSION_REQUEST.subarray(0, 7))],
      "3",
      /truncated/,
    ],
    [
      "a malformed grpc-timeout",
      [
        frame(HEADERS, END_HEADERS, 1, request({ "grpc-timeout": "10 years" })),
        frame(DATA, END_STREAM, 1, VERSION_REQUEST),
      ],
      "3",
      /invalid grpc-timeout "10 years"/,
    ],
    [
      "an unknown method",
      [
        frame(HEADERS, END_HEADERS, 1, request({ ":path": "/runtime.v1.RuntimeService/Nope" })),
        frame(DATA, END_STREAM, 1, VERSION_REQUEST),
      ],
      "12",
      /unknown method "\/runtime.v1.RuntimeService\/Nope"/,
    ],
  ])("%s: a gRPC status naming it; the server goes on", async (_what, bytes, status, message) => {
    const frames = await exchange(bytes);
    const h = headersOf(frames, 1);
    expect(h["grpc-status"]).toBe(status);
    expect(decodeURIComponent(h["grpc-message"] ?? "")).toMatch(message);
    await expectServerAlive();
  });

  it("a request that is not gRPC gets a plain HTTP status: 405 for GET, 415 for another content-type", async () => {
    const frames = await exchange([
      frame(HEADERS, END_HEADERS | END_STREAM, 1, request({ ":method": "GET" })),
      frame(HEADERS, END_HEADERS, 3, request({ "content-type": "application/json" })),
      frame(DATA, END_STREAM, 3, Buffer.from("{}")),
    ]);
    expect(headersOf(frames, 1)[":status"]).toBe("405");
    expect(headersOf(frames, 3)[":status"]).toBe("415");
  });

  it("an answer complete before its request ends is followed by RST_STREAM(NO_ERROR)", async () => {
    // A message over the limit is refused at its prefix; the client was still sending.
    const frames = await exchange([
      frame(HEADERS, END_HEADERS, 1, request()),
      frame(DATA, 0, 1, Buffer.from([0, 0x7f, 0, 0, 0])),
    ]);
    const rst = frames.find((f) => f.type === RST_STREAM && f.streamId === 1);
    expect(rst?.payload.readUInt32BE(0)).toBe(0);
  });
});

describe("HTTP/2 protocol errors end the connection with GOAWAY naming the error", () => {
  it.each([
    ["HEADERS on stream 0", [frame(HEADERS, END_HEADERS, 0, request())], 0x1],
    ["an even (server-initiated) stream id", [frame(HEADERS, END_HEADERS, 2, request())], 0x1],
    [
      "a stream id going backwards",
      [
        frame(HEADERS, END_HEADERS, 5, request()),
        frame(DATA, END_STREAM, 5, VERSION_REQUEST),
        frame(HEADERS, END_HEADERS, 3, request()),
      ],
      0x5,
    ],
    [
      "a header block interrupted by another frame",
      [frame(HEADERS, 0, 1, request()), frame(PING, 0, 0, Buffer.alloc(8))],
      0x1,
    ],
    ["a CONTINUATION with no header block open", [frame(CONTINUATION, END_HEADERS, 1, request())], 0x1],
    ["a PING of 7 octets", [frame(PING, 0, 0, Buffer.alloc(7))], 0x6],
    ["SETTINGS of 5 octets", [frame(SETTINGS_TYPE, 0, 0, Buffer.alloc(5))], 0x6],
    ["a WINDOW_UPDATE of 0 on the connection", [frame(WINDOW_UPDATE, 0, 0, Buffer.alloc(4))], 0x1],
    [
      "a connection window pushed over 2^31-1",
      [frame(WINDOW_UPDATE, 0, 0, Buffer.from([0x7f, 0xff, 0xff, 0xff]))],
      0x3,
    ],
    ["DATA on a stream never opened", [frame(DATA, 0, 7, Buffer.alloc(4))], 0x1],
    ["a PUSH_PROMISE from the client", [frame(0x5, END_HEADERS, 1, Buffer.alloc(4))], 0x1],
    ["a GOAWAY of 4 octets", [frame(GOAWAY, 0, 0, Buffer.alloc(4))], 0x6],
    [
      "a header block that is not HPACK",
      [frame(HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))],
      0x9,
    ],
  ])("%s", async (_what, bytes, code) => {
    const { frames, closed } = await rawExchange(socketPath, [PREFACE, SETTINGS, ...bytes]);
    expect(closed).toBe(true);
    const goaway = frames.find((f) => f.type === GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(code);
    await expectServerAlive();
  });

  it("a client preface not followed by SETTINGS", async () => {
    const { frames, closed } = await rawExchange(socketPath, [PREFACE, frame(PING, 0, 0, Buffer.alloc(8))]);
    expect(closed).toBe(true);
    expect(frames.find((f) => f.type === GOAWAY)?.payload.readUInt32BE(4)).toBe(0x1);
  });

  it("a refused stream that goes on sending 1 MiB does not disturb the next call on the connection", async () => {
    // The empty message then more DATA: stream 1 is refused (a second request message) while its client
    // goes on sending 1 MiB + 16 KiB. The window bookkeeping and the late frames must not end the
    // connection. (The server acknowledges DATA at half its 1 MiB stream window, so a well-formed peer
    // never reaches FLOW_CONTROL_ERROR; that check has no test here.)
    const chunk = Buffer.alloc(16_384);
    const data = Array.from({ length: 65 }, () => frame(DATA, 0, 1, chunk));
    const frames = await exchange([
      frame(HEADERS, END_HEADERS, 1, request()),
      frame(DATA, 0, 1, grpcMessage(Buffer.alloc(0)).subarray(0, 5)),
      ...data,
      frame(HEADERS, END_HEADERS, 3, request()),
      frame(DATA, END_STREAM, 3, VERSION_REQUEST),
    ]);
    // Stream 1 ends (its refusal or a reset); stream 3 is answered.
    expect(frames.some((f) => f.streamId === 1 && (f.type === RST_STREAM || f.type === HEADERS))).toBe(true);
    expect(headersOf(frames, 3)["grpc-status"]).toBe("0");
  });
});

describe("what the server owes every client", () => {
  it("acknowledges SETTINGS and answers PING with the same payload", async () => {
    const payload = Buffer.from("servin!!");
    const frames = await exchange([frame(PING, 0, 0, payload)]);
    expect(frames.some((f) => f.type === SETTINGS_TYPE && f.flags === ACK)).toBe(true);
    const pong = frames.find((f) => f.type === PING && f.flags === ACK);
    expect(pong?.payload.equals(payload)).toBe(true);
  });

  it("opens with its SETTINGS and a connection window far above 64 KiB", async () => {
    const frames = await exchange([]);
    expect(frames[0]?.type).toBe(SETTINGS_TYPE);
    const wu = frames.find((f) => f.type === WINDOW_UPDATE && f.streamId === 0);
    expect(wu?.payload.readUInt32BE(0)).toBeGreaterThan(1024 * 1024);
  });
});

describe("hostile peers hold bounded memory", () => {
  it("a flood of empty CONTINUATION frames ends the connection (ENHANCE_YOUR_CALM)", async () => {
    const empty = frame(CONTINUATION, 0, 1);
    const flood = Buffer.concat(Array.from({ length: 20_000 }, () => empty));
    const { frames, closed } = await rawExchange(socketPath, [
      PREFACE,
      SETTINGS,
      frame(HEADERS, 0, 1, request()),
      flood,
    ]);
    expect(closed).toBe(true);
    expect(frames.find((f) => f.type === GOAWAY)?.payload.readUInt32BE(4)).toBe(0xb);
    await expectServerAlive();
  });

  it("streams that each buffer a large unfinished message are refused past the connection's budget", async () => {
    // The receive limit is 1 MiB here, so a connection may hold 2 MiB of unfinished requests.
    const prefix = Buffer.from([0, 0, 0x0f, 0xff, 0xff]); // a message of 1 MiB - 1
    const chunk = Buffer.alloc(16_000);
    const partial = (id: number) => [
      frame(HEADERS, END_HEADERS, id, request()),
      frame(DATA, 0, id, prefix),
      ...Array.from({ length: 50 }, () => frame(DATA, 0, id, chunk)), // 800 kB of it
    ];
    const frames = await exchange([...partial(1), ...partial(3), ...partial(5)]);
    const h5 = headersOf(frames, 5);
    expect(h5["grpc-status"]).toBe("8");
    expect(decodeURIComponent(h5["grpc-message"] ?? "")).toMatch(/unfinished requests/);
    // The first two streams are still waiting for the rest of their message.
    expect(frames.some((f) => f.type === HEADERS && (f.streamId === 1 || f.streamId === 3))).toBe(false);
    await expectServerAlive();
  });

  it("request trailers crossing our early answer's RST_STREAM are ignored: other calls go on", async () => {
    // An unknown method is refused at its HEADERS; the client was still sending DATA and trailers.
    const frames = await exchange([
      frame(HEADERS, END_HEADERS, 1, request({ ":path": "/runtime.v1.RuntimeService/Nope" })),
      frame(DATA, 0, 1, VERSION_REQUEST),
      frame(HEADERS, END_HEADERS | END_STREAM, 1, encodeHeaderBlock([{ name: "x-trailer", value: "1" }])),
      frame(HEADERS, END_HEADERS, 3, request()),
      frame(DATA, END_STREAM, 3, VERSION_REQUEST),
    ]);
    expect(headersOf(frames, 1)["grpc-status"]).toBe("12");
    expect(frames.some((f) => f.type === GOAWAY)).toBe(false);
    // The DATA in flight after our RST_STREAM is ignored (RFC 9113 §5.1), not answered with another.
    expect(frames.filter((f) => f.type === RST_STREAM && f.streamId === 1)).toHaveLength(1);
    expect(headersOf(frames, 3)["grpc-status"]).toBe("0");
  });
});

describe("more hostile peers", () => {
  it("a rapid reset flood (open a call, cancel it, again) ends the connection (ENHANCE_YOUR_CALM)", async () => {
    const bytes: Buffer[] = [];
    for (let i = 0; i < 1200; i++) {
      const id = 2 * i + 1;
      bytes.push(
        frame(HEADERS, END_HEADERS, id, request()),
        frame(RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])),
      );
    }
    const { frames, closed } = await rawExchange(socketPath, [PREFACE, SETTINGS, Buffer.concat(bytes)]);
    expect(closed).toBe(true);
    expect(frames.find((f) => f.type === GOAWAY)?.payload.readUInt32BE(4)).toBe(0xb);
    await expectServerAlive();
  });

  it("a stream refused for depending on itself still feeds the HPACK table: the next stream decodes", async () => {
    // Stream 1 adds "x-a: 1" to the dynamic table (literal with incremental indexing); stream 3 refers to it.
    const addEntry = Buffer.from([0x40, 3, ...Buffer.from("x-a"), 1, ...Buffer.from("1")]);
    const selfPriority = Buffer.from([0, 0, 0, 1, 15]);
    const frames = await exchange([
      frame(HEADERS, END_HEADERS | 0x20, 1, Buffer.concat([selfPriority, request(), addEntry])),
      frame(HEADERS, END_HEADERS, 3, Buffer.concat([request(), Buffer.from([0x80 | 62])])),
      frame(DATA, END_STREAM, 3, VERSION_REQUEST),
    ]);
    expect(frames.find((f) => f.type === RST_STREAM && f.streamId === 1)?.payload.readUInt32BE(0)).toBe(0x1);
    expect(frames.some((f) => f.type === GOAWAY)).toBe(false);
    expect(headersOf(frames, 3)["grpc-status"]).toBe("0");
  });

  it("a peer that neither reads nor closes after our GOAWAY is dropped", async () => {
    const socket = netConnect({ path: socketPath, allowHalfOpen: true });
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    let closed = false;
    socket.on("close", () => {
      closed = true;
    });
    socket.write(Buffer.concat([PREFACE, SETTINGS, frame(PING, 0, 0, Buffer.alloc(7))]));
    try {
      // Half-closed by the server already: only a write tells whether it has let go of its end.
      await until(() => {
        if (!closed) socket.write(Buffer.alloc(1));
        return closed;
      }, "the server to drop the connection");
    } finally {
      socket.destroy();
    }
  });
});
