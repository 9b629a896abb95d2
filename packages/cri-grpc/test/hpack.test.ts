/**
 * The HPACK codec (src/_hpack.ts): RFC 7541 Appendix C examples, the Huffman
 * code against the RFC's table, malformed blocks, and Node's own HTTP/2 client
 * (nghttp2: Huffman + dynamic table) as the encoder.
 */
import { connect, sensitiveHeaders } from "node:http2";
import { Duplex } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackError,
  HUFFMAN_CODE_LENGTHS,
  HUFFMAN_CODES,
  huffmanDecode,
  huffmanEncode,
  STATIC_TABLE,
} from "../src/_hpack.js";
import { until } from "./_helpers.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const pairs = (fields: HeaderField[]) => fields.map((f) => [f.name, f.value]);

const REQUEST_1 = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/"],
  [":authority", "www.example.com"],
];
const REQUEST_2 = [...REQUEST_1, ["cache-control", "no-cache"]];
const REQUEST_3 = [
  [":method", "GET"],
  [":scheme", "https"],
  [":path", "/index.html"],
  [":authority", "www.example.com"],
  ["custom-key", "custom-value"],
];

describe("HpackDecoder: RFC 7541 Appendix C", () => {
  it.each([
    [
      "C.3 requests without Huffman coding",
      [
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
      ],
    ],
    [
      "C.4 requests with Huffman coding",
      [
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
      ],
    ],
  ])("%s decode in sequence with the RFC's dynamic table", (_name, blocks) => {
    const decoder = new HpackDecoder();
    expect(pairs(decoder.decode(hex(blocks[0] as string)))).toEqual(REQUEST_1);
    expect(decoder.dynamicTable).toEqual([[":authority", "www.example.com"]]);
    expect(decoder.dynamicTableSize).toBe(57);
    expect(pairs(decoder.decode(hex(blocks[1] as string)))).toEqual(REQUEST_2);
    expect(decoder.dynamicTable).toEqual([
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ]);
    expect(decoder.dynamicTableSize).toBe(110);
    expect(pairs(decoder.decode(hex(blocks[2] as string)))).toEqual(REQUEST_3);
    expect(decoder.dynamicTable).toEqual([
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ]);
    expect(decoder.dynamicTableSize).toBe(164);
  });

  it("C.5 responses evict from a 256-octet table", () => {
    const decoder = new HpackDecoder({ maxTableSize: 256 });
    const first = decoder.decode(
      hex(`4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
           2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
           6c65 2e63 6f6d`),
    );
    expect(pairs(first)).toEqual([
      [":status", "302"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ]);
    expect(decoder.dynamicTableSize).toBe(222);
    // ":status: 307" needs room: the oldest entry (":status: 302") is evicted.
    expect(pairs(decoder.decode(hex("4803 3330 37c1 c0bf")))).toEqual([
      [":status", "307"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ]);
    expect(decoder.dynamicTable).toEqual([
      [":status", "307"],
      ["location", "https://www.example.com"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["cache-control", "private"],
    ]);
    expect(decoder.dynamicTableSize).toBe(222);
  });

  it("C.2: literal never indexed is reported as sensitive and not added", () => {
    const decoder = new HpackDecoder();
    expect(decoder.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))).toEqual([
      { name: "password", value: "secret", sensitive: true },
    ]);
    expect(decoder.dynamicTableSize).toBe(0);
    // C.2.2: literal without indexing, indexed name (:path).
    expect(pairs(decoder.decode(hex("040c 2f73 616d 706c 652f 7061 7468")))).toEqual([
      [":path", "/sample/path"],
    ]);
    expect(decoder.dynamicTableSize).toBe(0);
  });

  it("applies a table size update: 0 empties the table, later entries fit the new size", () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"));
    expect(decoder.dynamicTableSize).toBe(57);
    expect(pairs(decoder.decode(hex("20 82")))).toEqual([[":method", "GET"]]);
    expect(decoder.dynamicTableSize).toBe(0);
    // Size update to 60 then an insert of 57 octets, then one more: the first is evicted.
    decoder.decode(hex("3f1d 4103 6162 63")); // size 60 (31 + 29), :authority: abc (45)
    expect(decoder.dynamicTable).toEqual([[":authority", "abc"]]);
    decoder.decode(hex("4103 7879 7a")); // :authority: xyz
    expect(decoder.dynamicTable).toEqual([[":authority", "xyz"]]);
    // An entry larger than the whole table empties it and is not added.
    decoder.decode(hex(`41 1e ${"61".repeat(30)}`));
    expect(decoder.dynamicTable).toEqual([]);
    expect(decoder.dynamicTableSize).toBe(0);
  });
});

describe("Huffman code (RFC 7541 Appendix B)", () => {
  it("is the RFC's table: complete, canonical, with the RFC's codes", () => {
    expect(HUFFMAN_CODE_LENGTHS).toHaveLength(257);
    // A complete prefix code: the Kraft sum is exactly 1 (every bit string decodes or is a prefix).
    const kraft = HUFFMAN_CODE_LENGTHS.reduce((sum, length) => sum + 2 ** (30 - length), 0);
    expect(kraft).toBe(2 ** 30);
    // Spot checks, copied from the RFC's table (code as hex, length in bits).
    const rfc: [number, number, number][] = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [9, 0xffffea, 24],
      [10, 0x3ffffffc, 30],
      [32, 0x14, 6], // ' '
      [48, 0x0, 5], // '0'
      [65, 0x21, 6], // 'A'
      [97, 0x3, 5], // 'a'
      [122, 0x7b, 7], // 'z'
      [127, 0xffffffc, 28],
      [128, 0xfffe6, 20],
      [200, 0x3ffffe2, 26],
      [255, 0x3ffffee, 26],
      [256, 0x3fffffff, 30], // EOS
    ];
    for (const [symbol, code, length] of rfc) {
      expect([symbol, HUFFMAN_CODES[symbol], HUFFMAN_CODE_LENGTHS[symbol]]).toEqual([symbol, code, length]);
    }
  });

  it("round-trips every octet and mixed strings", () => {
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
    expect(huffmanDecode(huffmanEncode(all))).toBe(all);
    for (let i = 0; i < 256; i++) {
      const s = String.fromCharCode(i).repeat(1 + (i % 9));
      expect(huffmanDecode(huffmanEncode(s))).toBe(s);
    }
    expect(huffmanEncode("www.example.com").toString("hex")).toBe("f1e3c2e5f23a6ba0ab90f4ff");
    expect(huffmanDecode(Buffer.alloc(0))).toBe("");
  });

  it("refuses padding that is not ones, padding of 8 bits or more, and EOS", () => {
    // 'a' = 00011, padded with 000 instead of 111.
    expect(() => huffmanDecode(Buffer.from([0b00011000]))).toThrow(/padding/);
    // 'a' + 111 padding is fine; a whole extra byte of ones is not.
    expect(huffmanDecode(Buffer.from([0b00011111]))).toBe("a");
    expect(() => huffmanDecode(Buffer.from([0b00011111, 0xff]))).toThrow(/padding/);
    // EOS (30 ones) inside the string.
    expect(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/EOS/);
    // Truncated mid-symbol (first 8 bits of a 13-bit code).
    expect(() => huffmanDecode(Buffer.from([0xff]))).toThrow(/padding/);
  });
});

describe("HpackDecoder: malformed blocks", () => {
  it.each([
    ["index 0", "80"],
    ["an index past both tables", "be"],
    ["a truncated integer", "ff"],
    ["an integer beyond 28 bits", "ff ff ff ff ff 0f"],
    ["a string longer than the block", "4005 6162"],
    ["a truncated string", "00"],
    ["bad huffman padding", "0081 18"],
    ["a size update above the limit", "3fe2 1f"], // 31 + 4066 = 4097 > 4096
    ["a size update after a header field", "82 20"],
    ["a literal name index past the tables", "0f30 0161"],
  ])("throws HpackError for %s", (_what, block) => {
    expect(() => new HpackDecoder().decode(hex(block))).toThrow(HpackError);
  });

  it("bounds the decoded header list (an indexed-entry bomb)", () => {
    const big = "x".repeat(4000);
    // One 4 KB entry, then a 100-octet block that references it 100 times.
    const d2 = new HpackDecoder({ maxHeaderListSize: 64 * 1024 });
    const insert = encodeLiteralWithIndexing("b", big);
    d2.decode(insert);
    expect(() => d2.decode(Buffer.alloc(100, 0xbe))).toThrow(/too large/);
  });
});

function encodeLiteralWithIndexing(name: string, value: string): Buffer {
  const lengthBytes = (n: number) => {
    if (n < 127) return [n];
    const out = [127];
    let rest = n - 127;
    while (rest >= 128) {
      out.push((rest % 128) | 0x80);
      rest = Math.floor(rest / 128);
    }
    out.push(rest);
    return out;
  };
  return Buffer.concat([
    Buffer.from([0x40, ...lengthBytes(name.length)]),
    Buffer.from(name, "latin1"),
    Buffer.from(lengthBytes(value.length)),
    Buffer.from(value, "latin1"),
  ]);
}

describe("encodeHeaderBlock", () => {
  it("uses the static table and plain literals; a fresh decoder reads it and stays empty", () => {
    const fields: HeaderField[] = [
      { name: ":method", value: "POST" },
      { name: ":scheme", value: "http" },
      { name: ":path", value: "/runtime.v1.RuntimeService/Version" },
      { name: ":authority", value: "localhost" },
      { name: "content-type", value: "application/grpc" },
      { name: "te", value: "trailers" },
      { name: "authorization", value: "Bearer s3cret", sensitive: true },
      { name: "x-long", value: "v".repeat(300) },
      { name: "x-latin1", value: "\u00e9\u00ff\t" },
    ];
    const block = encodeHeaderBlock(fields);
    expect(block.subarray(0, 2)).toEqual(Buffer.from([0x83, 0x86]));
    const decoder = new HpackDecoder();
    expect(decoder.decode(block)).toEqual(fields);
    expect(decoder.dynamicTableSize).toBe(0);
    expect(STATIC_TABLE).toHaveLength(61);
  });
});

/** Captures what Node's HTTP/2 client writes, without a server. */
function captureClient(): {
  frames(): { type: number; flags: number; streamId: number; payload: Buffer }[];
  close(): void;
  session: ReturnType<typeof connect>;
} {
  const chunks: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const session = connect("http://localhost", { createConnection: () => socket as never });
  session.on("error", () => undefined);
  return {
    session,
    frames() {
      const all = Buffer.concat(chunks).subarray(24);
      const out = [];
      for (let pos = 0; pos + 9 <= all.length; ) {
        const length = all.readUIntBE(pos, 3);
        out.push({
          type: all[pos + 3] as number,
          flags: all[pos + 4] as number,
          streamId: all.readUInt32BE(pos + 5) & 0x7fffffff,
          payload: all.subarray(pos + 9, pos + 9 + length),
        });
        pos += 9 + length;
      }
      return out;
    },
    close() {
      session.destroy();
    },
  };
}

describe("HpackDecoder against Node's HTTP/2 client (nghttp2 encoder: Huffman + dynamic table)", () => {
  it("decodes 100 requests on one connection exactly as they were sent", async () => {
    const client = captureClient();
    const sent: Record<string, string>[] = [];
    const high = Array.from({ length: 128 }, (_, i) => String.fromCharCode(128 + i)).join("");
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");
    // 100: nghttp2 opens no more streams before the (absent) server's SETTINGS.
    for (let i = 0; i < 100; i++) {
      const headers: Record<string, string> = {
        ":method": "POST",
        ":path": `/runtime.v1.RuntimeService/${i % 7 === 0 ? "Version" : `Call${i}`}`,
        ":authority": i % 3 === 0 ? "/run/servin/servin.sock" : `/tmp/sock-${i % 5}.sock`,
        "content-type": "application/grpc",
        te: "trailers",
        "x-printable": printable.slice(i % 50, 40 + (i % 55)),
        "x-counter": String(i),
        // Octets 0x80–0xff too (Node sends one octet per char), for the long Huffman codes.
        "x-high": high.slice(i % 100, 28 + (i % 100)),
      };
      if (i % 10 === 0) headers["x-big"] = `${printable}`.repeat(1 + (i % 4)); // pressure on the 4 KB table
      sent.push(headers);
      const stream = client.session.request(
        { ...headers, [sensitiveHeaders]: i % 4 === 0 ? ["x-counter"] : [] },
        { endStream: true },
      );
      stream.on("error", () => undefined);
    }
    await until(() => client.frames().filter((f) => f.type === 1).length >= 100, "100 headers frames");
    const decoder = new HpackDecoder();
    const headerFrames = client.frames().filter((f) => f.type === 1);
    expect(headerFrames.length).toBe(100);
    headerFrames.forEach((frame, i) => {
      expect(frame.flags & 0x4).toBe(0x4); // END_HEADERS: each block fits one frame here
      const fields = decoder.decode(frame.payload);
      const got = Object.fromEntries(
        fields.filter((f) => !f.name.startsWith(":scheme")).map((f) => [f.name, f.value]),
      );
      expect(got).toEqual(sent[i]);
      if (i % 4 === 0) expect(fields.find((f) => f.name === "x-counter")?.sensitive).toBe(true);
    });
    // nghttp2 did use the dynamic table: repeated authorities were sent as an index.
    expect(decoder.dynamicTableSize).toBeGreaterThan(0);
    client.close();
  });
});
