/** Decompression caps: a zstd bomb (hand-built RLE frame) stops one block past the cap, not a whole push later. */
import { describe, expect, it, vi } from "vitest";
import { DecompressionLimitError, decompress } from "./_decompress.js";

// Counts what the real fzstd decoder hands out, to see how far past the cap it got.
const counter = vi.hoisted(() => ({ emitted: 0 }));
vi.mock("fzstd", async (importOriginal) => {
  const orig = await importOriginal<typeof import("fzstd")>();
  class CountingDecompress extends orig.Decompress {
    constructor(ondata: (chunk: Uint8Array, final?: boolean) => unknown) {
      super((chunk, final) => {
        counter.emitted += chunk.length;
        ondata(chunk, final);
      });
    }
  }
  return { ...orig, Decompress: CountingDecompress };
});

const BLOCK = 128 * 1024;

/**
 * A zstd frame of `blocks` RLE blocks of 128 KiB of `byte` each: 4 input bytes
 * per 128 KiB of output (zstd's maximum block size), the densest bomb there is.
 */
function rleFrame(blocks: number, byte = 0x41): Buffer {
  // Magic, then a descriptor with no content size / checksum / dictionary and a
  // window descriptor for a 128 KiB window (exponent 7: 2^(10+7)).
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])];
  for (let i = 0; i < blocks; i++) {
    const last = i === blocks - 1 ? 1 : 0;
    const header = (BLOCK << 3) | (1 << 1) | last; // size, type 1 = RLE, last-block flag
    parts.push(Buffer.from([header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, byte]));
  }
  return Buffer.concat(parts);
}

async function* one(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

async function drain(source: AsyncIterable<Buffer>): Promise<number> {
  let n = 0;
  for await (const c of source) n += c.length;
  return n;
}

describe("zstd decompression cap", () => {
  it("decodes a hand-built RLE frame under the cap", async () => {
    counter.emitted = 0;
    let kind = "";
    const n = await drain(decompress(one(rleFrame(3, 0x7a)), 10 * BLOCK, (k) => (kind = k)));
    expect(kind).toBe("zstd");
    expect(n).toBe(3 * BLOCK);
  });

  it("stops a bomb one block past the cap with a clear error", async () => {
    counter.emitted = 0;
    const cap = 1024 * 1024;
    // 8192 blocks: 32 KiB in, 1 GiB out.
    const bomb = rleFrame(8192);
    const err = await drain(decompress(one(bomb), cap, undefined, "a test cap")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecompressionLimitError);
    expect((err as Error).message).toBe(
      `uncompressed layer exceeds the ${cap}-byte cap (a test cap): decompression bomb? (nothing past the cap was written)`,
    );
    // The decoder produced at most one block beyond the cap before being stopped.
    expect(counter.emitted).toBeLessThanOrEqual(cap + BLOCK);
  });

  it("stops a bomb fed in small network chunks too", async () => {
    counter.emitted = 0;
    const cap = 300 * 1024;
    const bomb = rleFrame(4096);
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let off = 0; off < bomb.length; off += 1000) yield bomb.subarray(off, off + 1000);
    }
    await expect(drain(decompress(chunks(), cap))).rejects.toBeInstanceOf(DecompressionLimitError);
    expect(counter.emitted).toBeLessThanOrEqual(cap + BLOCK);
  });

  it("never hands out a byte past the cap (gzip and zstd): what is written stays within it", async () => {
    const { gzipSync } = await import("node:zlib");
    const cap = 5 * 1024 * 1024 + 7;
    for (const blob of [gzipSync(Buffer.alloc(64 * 1024 * 1024)), rleFrame(512)]) {
      let handedOut = 0;
      const err = await (async () => {
        for await (const c of decompress(one(blob), cap)) handedOut += c.length;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DecompressionLimitError);
      expect(handedOut).toBeLessThanOrEqual(cap);
    }
  });
});

describe("chunks", () => {
  it("passes a plain layer's chunks on as they arrive, after the magic bytes, however they are cut", async () => {
    const data = Buffer.from("a".repeat(700_000));
    const cuts = [1, 3, 200_000, 300_000, 199_996];
    async function* source(): AsyncGenerator<Buffer> {
      let off = 0;
      for (const n of cuts) {
        yield data.subarray(off, off + n);
        off += n;
      }
    }
    const out: Buffer[] = [];
    for await (const c of decompress(source(), 10_000_000)) out.push(c);
    expect(Buffer.concat(out).equals(data)).toBe(true);
    // The 4 sniffed bytes, then the 3 later chunks whole: no re-cutting into small reads.
    expect(out.map((c) => c.length)).toEqual([4, 200_000, 300_000, 199_996]);
  });

  it("passes on what was read past the magic bytes first, then the rest, and no empty chunk", async () => {
    const data = Buffer.from("0123456789".repeat(30_000));
    const parts = [data.subarray(0, 100_000), Buffer.alloc(0), data.subarray(100_000)];
    async function* source(): AsyncGenerator<Buffer> {
      yield* parts;
    }
    const out: Buffer[] = [];
    for await (const c of decompress(source(), 10_000_000)) out.push(c);
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(out.map((c) => c.length)).toEqual([4, 99_996, 200_000]);
  });

  it("inflates gzip into large chunks, byte for byte, from input cut anywhere", async () => {
    const { gzipSync } = await import("node:zlib");
    const { randomBytes } = await import("node:crypto");
    // zlib hands out what one input chunk inflates to: the random MiB comes out in ~14 chunks (one per
    // 77,777-byte input chunk), the 8 MiB of one byte (~8 KiB of gzip) in as many as the chunk size makes.
    const data = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(8 * 1024 * 1024, 0x61)]);
    const gz = gzipSync(data);
    async function* source(): AsyncGenerator<Buffer> {
      for (let off = 0; off < gz.length; off += 77_777) yield gz.subarray(off, off + 77_777);
    }
    const out: Buffer[] = [];
    for await (const c of decompress(source(), 64 * 1024 * 1024)) out.push(c);
    expect(Buffer.concat(out).equals(data)).toBe(true);
    // 9 MiB in a few dozen chunks, not the ~150 that 64 KiB chunks (this code's before) make.
    expect(out.length).toBeLessThan(40);
  });
});
