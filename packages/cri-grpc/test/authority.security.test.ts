/**
 * Hostile and broken HTTP/2 input on the gRPC socket: a reset stream, malformed
 * frames and malformed HPACK blocks end at most their own connection (with a
 * GOAWAY naming the error), never the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  frame,
  H2,
  h2Connect,
  h2Version,
  PREFACE,
  type RawFrame,
  rawExchange,
  VERSION_PATH,
  VERSION_REQUEST,
} from "./_h2.js";
import { type MemoryGrpcServer, startMemoryGrpcServer } from "./_memory-services.js";

const { HEADERS, DATA, CONTINUATION, GOAWAY, END_STREAM, END_HEADERS, PADDED } = H2;
const PROTOCOL_ERROR = 0x1;
const COMPRESSION_ERROR = 0x9;
const FRAME_SIZE_ERROR = 0x6;

let fixture: MemoryGrpcServer;
let socketPath: string;

beforeAll(async () => {
  fixture = await startMemoryGrpcServer();
  socketPath = fixture.socketPath;
});

afterAll(() => fixture?.close());

/** The server still answers: a fresh grpc-js client and a fresh path-authority connection. */
async function expectServerAlive(): Promise<void> {
  await expect(fixture.cri.version({})).resolves.toMatchObject({ runtimeApiVersion: "v1" });
  const session = h2Connect(socketPath);
  try {
    expect((await h2Version(session, socketPath)).status).toBe(0);
  } finally {
    session.close();
  }
}

/**
 * Stream 1 got response headers and a response message: a trailers-only error answer
 * (UNIMPLEMENTED, INTERNAL, …) is HEADERS alone, so HEADERS alone proves nothing.
 */
function expectVersionAnswered(frames: RawFrame[]): void {
  expect(frames.some((f) => f.streamId === 1 && f.type === HEADERS)).toBe(true);
  // A gRPC message: 1 flag octet, 4 length octets, then a non-empty VersionResponse.
  expect(frames.some((f) => f.streamId === 1 && f.type === DATA && f.payload.length > 5)).toBe(true);
}

const SETTINGS = frame(0x4, 0, 0);
/** A valid request header block, static table only: POST, http, Version path, :authority, grpc headers. */
function requestBlock(authority = "/run/servin/servin.sock"): Buffer {
  const literal = (index: number, value: string) =>
    Buffer.concat([Buffer.from([index, value.length]), Buffer.from(value, "latin1")]);
  return Buffer.concat([
    Buffer.from([0x83, 0x86]),
    literal(0x04, VERSION_PATH),
    literal(0x01, authority),
    Buffer.from([0x0f, 0x10, 0x10]), // content-type (index 31 = 15 + 16), 16-octet value
    Buffer.from("application/grpc", "latin1"),
    Buffer.from([0x00, 0x02]),
    Buffer.from("te", "latin1"),
    Buffer.from([0x08]),
    Buffer.from("trailers", "latin1"),
  ]);
}

describe("malformed input ends only its own connection", () => {
  it("a hand-made request with a path authority is answered (the raw frames below are sound)", async () => {
    const { frames } = await rawExchange(socketPath, [
      PREFACE,
      SETTINGS,
      frame(HEADERS, END_HEADERS, 1, requestBlock()),
      frame(DATA, END_STREAM, 1, VERSION_REQUEST),
      // Then end the connection politely so that the exchange completes.
      frame(GOAWAY, 0, 0, Buffer.alloc(8)),
    ]);
    expectVersionAnswered(frames);
  });

  it.each([
    [
      "an index that is in no table",
      frame(HEADERS, END_HEADERS, 1, Buffer.from([0x82, 0xbe])),
      COMPRESSION_ERROR,
    ],
    ["index 0", frame(HEADERS, END_HEADERS, 1, Buffer.from([0x80])), COMPRESSION_ERROR],
    [
      "Huffman padding that is not ones",
      frame(HEADERS, END_HEADERS, 1, Buffer.from([0x82, 0x41, 0x81, 0b00011000])),
      COMPRESSION_ERROR,
    ],
    [
      "EOS inside a Huffman string",
      frame(HEADERS, END_HEADERS, 1, Buffer.from([0x41, 0x84, 0xff, 0xff, 0xff, 0xff])),
      COMPRESSION_ERROR,
    ],
    ["a truncated integer", frame(HEADERS, END_HEADERS, 1, Buffer.from([0xff, 0xff])), COMPRESSION_ERROR],
    [
      "a table size update above the limit",
      frame(HEADERS, END_HEADERS, 1, Buffer.from([0x3f, 0xe2, 0x7f])),
      COMPRESSION_ERROR,
    ],
    ["HEADERS on stream 0", frame(HEADERS, END_HEADERS, 0, requestBlock()), PROTOCOL_ERROR],
    ["CONTINUATION without HEADERS", frame(CONTINUATION, END_HEADERS, 1, requestBlock()), PROTOCOL_ERROR],
    [
      "a DATA frame inside a header block",
      Buffer.concat([frame(HEADERS, 0, 1, requestBlock()), frame(DATA, 0, 1, Buffer.from("x"))]),
      PROTOCOL_ERROR,
    ],
    [
      "CONTINUATION on another stream",
      Buffer.concat([
        frame(HEADERS, 0, 1, requestBlock()),
        frame(CONTINUATION, END_HEADERS, 3, Buffer.alloc(0)),
      ]),
      PROTOCOL_ERROR,
    ],
    [
      "padding longer than the frame",
      frame(HEADERS, END_HEADERS | PADDED, 1, Buffer.concat([Buffer.from([200]), requestBlock()])),
      PROTOCOL_ERROR,
    ],
    ["PUSH_PROMISE from a client", frame(0x5, END_HEADERS, 1, Buffer.alloc(4)), PROTOCOL_ERROR],
    [
      // Only the 9-octet header of a 16 MiB HEADERS frame: refused before any of it is buffered,
      // FRAME_SIZE_ERROR as RFC 9113 §4.2 says (above our SETTINGS_MAX_FRAME_SIZE, 16384).
      "a HEADERS frame announcing 16 MiB",
      Buffer.from([0xff, 0xff, 0xff, HEADERS, END_HEADERS, 0, 0, 0, 1]),
      FRAME_SIZE_ERROR,
    ],
  ])("%s: GOAWAY and close, the server keeps serving", async (_what, bad, code) => {
    const { frames, closed } = await rawExchange(socketPath, [PREFACE, SETTINGS, bad]);
    expect(closed).toBe(true);
    const goaway = frames.find((f) => f.type === GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(code);
    await expectServerAlive();
  });

  it("a bad client preface: the connection is dropped", async () => {
    const { closed } = await rawExchange(socketPath, [Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]);
    expect(closed).toBe(true);
    await expectServerAlive();
  });

  it("a frame cut off by the client closing the connection", async () => {
    const cut = frame(HEADERS, END_HEADERS, 1, requestBlock()).subarray(0, 20);
    const { closed } = await rawExchange(socketPath, [PREFACE, SETTINGS, cut], { end: true });
    expect(closed).toBe(true);
    await expectServerAlive();
  });

  it("bytes split at every position still form the same request (frames across reads)", async () => {
    const whole = Buffer.concat([
      PREFACE,
      SETTINGS,
      frame(HEADERS, END_HEADERS, 1, requestBlock()),
      frame(DATA, END_STREAM, 1, VERSION_REQUEST),
    ]);
    // One octet per write, paced: the server reads the frames in one-octet pieces.
    const pieces = Array.from(whole, (b) => Buffer.from([b]));
    const { frames } = await rawExchange(socketPath, [...pieces, frame(GOAWAY, 0, 0, Buffer.alloc(8))], {
      paceMs: 1,
    });
    expectVersionAnswered(frames);
  });
});

describe("a stream reset by the client", () => {
  it("RST_STREAM mid-call ends that call only; the connection and the server go on", async () => {
    const session = h2Connect(socketPath);
    try {
      for (let i = 0; i < 20; i++) {
        const stream = session.request({
          ":method": "POST",
          ":path": VERSION_PATH,
          ":authority": socketPath,
          "content-type": "application/grpc",
          te: "trailers",
        });
        stream.on("error", () => undefined);
        // Half a message, then cancel (RST_STREAM CANCEL).
        stream.write(VERSION_REQUEST.subarray(0, 3));
        await new Promise((resolve) => setImmediate(resolve));
        stream.close(0x8);
        await new Promise((resolve) => stream.on("close", resolve));
      }
      expect((await h2Version(session, socketPath)).status).toBe(0);
    } finally {
      session.close();
    }
    await expectServerAlive();
  });
});
