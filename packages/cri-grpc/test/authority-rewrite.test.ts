/**
 * The connection wrapper on its own: a byte stream that Node's HTTP/2 client
 * wrote (Huffman, dynamic table with evictions, DATA, CONTINUATION), cut into
 * arbitrary reads, comes out with every non-header frame unchanged and in
 * order, and every header block equal to the client's with `:authority`
 * normalised, readable by a decoder that never saw the client's table.
 */
import { connect } from "node:http2";
import type { Socket } from "node:net";
import { Duplex, PassThrough } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_EMITTED_FRAME, rewriteAuthority } from "../src/_authority-rewrite.js";
import { type HeaderField, HpackDecoder } from "../src/_hpack.js";
import { until } from "./_helpers.js";

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

function parseFrames(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  for (let pos = 0; pos + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(pos, 3);
    frames.push({
      type: bytes[pos + 3] as number,
      flags: bytes[pos + 4] as number,
      streamId: bytes.readUInt32BE(pos + 5) & 0x7fffffff,
      payload: bytes.subarray(pos + 9, pos + 9 + length),
    });
    pos += 9 + length;
  }
  return frames;
}

/** Header blocks (HEADERS + CONTINUATION payloads joined; padding and priority stripped) and the other frames. */
function split(frames: Frame[]): {
  blocks: { streamId: number; flags: number; block: Buffer }[];
  others: Frame[];
} {
  const blocks: { streamId: number; flags: number; block: Buffer }[] = [];
  const others: Frame[] = [];
  for (const f of frames) {
    if (f.type === 1) {
      let p = f.payload;
      let pad = 0;
      if (f.flags & 0x8) {
        pad = p[0] as number;
        p = p.subarray(1);
      }
      if (f.flags & 0x20) p = p.subarray(5);
      blocks.push({ streamId: f.streamId, flags: f.flags & 0x21, block: p.subarray(0, p.length - pad) });
    } else if (f.type === 9) {
      const last = blocks[blocks.length - 1] as (typeof blocks)[number];
      last.block = Buffer.concat([last.block, f.payload]);
    } else {
      others.push(f);
    }
  }
  return { blocks, others };
}

/** What Node's HTTP/2 client writes for a mix of requests on one connection. */
async function clientBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const sink = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const session = connect("http://localhost", { createConnection: () => sink as never });
  session.on("error", () => undefined);
  for (let i = 0; i < 60; i++) {
    const stream = session.request(
      {
        ":method": "POST",
        ":path": `/runtime.v1.RuntimeService/M${i % 6}`,
        ":authority": i % 2 ? "/run/servin/servin.sock" : `/tmp/s${i % 7}.sock`,
        "content-type": "application/grpc",
        te: "trailers",
        // Large varying values make the client's 4 KB table evict; one block needs CONTINUATION.
        "x-v": `${i}`.repeat(100 + ((i * 37) % 400)),
        ...(i === 30 ? { "x-huge": "h".repeat(30_000) } : {}),
      },
      { endStream: false, weight: 1 + (i % 200) },
    );
    stream.on("error", () => undefined);
    stream.end(Buffer.from([0, 0, 0, 0, 2, 10, i]));
  }
  await until(
    () => parseFrames(Buffer.concat(chunks).subarray(24)).filter((f) => f.type === 0).length >= 60,
    "DATA",
  );
  session.destroy();
  return Buffer.concat(chunks);
}

/** Runs `input` through the wrapper, cut at `cuts`, and returns what reaches the HTTP/2 server side. */
async function rewrite(input: Buffer, cuts: number[]): Promise<Buffer> {
  const socket = new PassThrough();
  const wrapped = rewriteAuthority(socket as unknown as Socket);
  const out: Buffer[] = [];
  wrapped.on("data", (c: Buffer) => out.push(c));
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    socket.write(input.subarray(at, cut));
    at = cut;
  }
  socket.write(input.subarray(at));
  await new Promise((resolve) => setImmediate(resolve));
  wrapped.destroy();
  return Buffer.concat(out);
}

const normalised = (fields: HeaderField[]) =>
  fields.map((f) => (f.name === ":authority" ? { ...f, value: "localhost" } : f));

describe("the authority rewrite, frame by frame", () => {
  it("keeps every other frame and every header (authority normalised), however the bytes are cut", async () => {
    const input = await clientBytes();
    const inFrames = split(parseFrames(input.subarray(24)));
    expect(parseFrames(input.subarray(24)).some((f) => f.type === 9)).toBe(true); // a CONTINUATION
    const clientDecoder = new HpackDecoder();
    const expected = inFrames.blocks.map((b) => ({
      streamId: b.streamId,
      flags: b.flags,
      fields: normalised(clientDecoder.decode(b.block)),
    }));
    expect(expected.some((b) => b.fields.some((f) => f.name === "x-huge"))).toBe(true);

    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: input.length - 1 }), { maxLength: 40 }),
        async (cuts) => {
          const output = await rewrite(input, cuts);
          expect(output.subarray(0, 24).toString("latin1")).toBe("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
          const outFrames = parseFrames(output.subarray(24));
          for (const f of outFrames) expect(f.payload.length).toBeLessThanOrEqual(MAX_EMITTED_FRAME);
          const got = split(outFrames);
          expect(got.others).toEqual(inFrames.others);
          // A fresh decoder reads every block: the server's table is never used.
          const serverDecoder = new HpackDecoder();
          const decoded = got.blocks.map((b) => ({
            streamId: b.streamId,
            flags: b.flags,
            fields: serverDecoder.decode(b.block),
          }));
          expect(serverDecoder.dynamicTableSize).toBe(0);
          expect(decoded).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
