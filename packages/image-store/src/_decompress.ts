/** Layer decompression by content sniffing: gzip (zlib, streaming), zstd (fzstd, streaming) or plain tar. */
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { Decompress } from "fzstd";
import { ByteReader } from "./_bytes.js";

export type Compression = "gzip" | "zstd" | "none";

export class DecompressionLimitError extends Error {}

/**
 * After the magic bytes, the source's chunks go on as they arrive (the unpack pool hands over ~256 KiB at
 * a time), not re-cut into small reads.
 */
async function* prepend(first: Buffer, reader: ByteReader): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  yield* reader.rest();
}

/**
 * zlib's output chunk. Each chunk is a round trip to libuv's thread pool and a pass through every
 * generator after it (hash, tar reader, file writes): at 64 KiB, a ~305 MiB pull made ~5,000 of them,
 * and 1 MiB took its in-process time from 1.9 to 1.4 s (bench/README.md, image-pull-large). The cap on
 * the uncompressed size is checked per chunk, before it is passed on.
 */
const GUNZIP_CHUNK = 1024 * 1024;

async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const input = Readable.from(source);
  input.on("error", (err) => z.destroy(err));
  input.pipe(z);
  try {
    for await (const chunk of z) yield chunk as Buffer;
  } finally {
    input.destroy();
    z.destroy();
  }
}

function bombError(maxBytes: number, note?: string): DecompressionLimitError {
  return new DecompressionLimitError(
    `uncompressed layer exceeds the ${maxBytes}-byte cap${note ? ` (${note})` : ""}: decompression bomb? (nothing past the cap was written)`,
  );
}

/** zstd input is pushed in slices this small: a slice of RLE blocks (4 bytes → 128 KiB each) expands to at most 16 MiB. */
export const ZSTD_SLICE = 512;

async function* unzstd(
  source: AsyncIterable<Buffer>,
  maxBytes: number,
  note?: string,
): AsyncGenerator<Buffer> {
  let out: Uint8Array[] = [];
  let ended = false;
  let produced = 0;
  // fzstd calls back once per block (at most 128 KiB), synchronously inside
  // push(): counting here stops a bomb one block past the cap instead of after
  // a whole push's worth of output is already in memory.
  const d = new Decompress((chunk, final) => {
    produced += chunk.length;
    if (produced > maxBytes) throw bombError(maxBytes, note);
    out.push(chunk);
    if (final) ended = true;
  });
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length; off += ZSTD_SLICE) {
      d.push(chunk.subarray(off, off + ZSTD_SLICE));
      if (out.length > 0) {
        const ready = out;
        out = [];
        for (const c of ready) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      }
    }
  }
  if (!ended) {
    d.push(new Uint8Array(0), true);
    for (const c of out) yield Buffer.from(c.buffer, c.byteOffset, c.byteLength);
  }
}

/**
 * Decompresses `source` as whatever its first bytes say it is, stopping with
 * DecompressionLimitError once more than `maxBytes` come out (bombs).
 */
export async function* decompress(
  source: AsyncIterable<Uint8Array>,
  maxBytes: number,
  onKind?: (kind: Compression) => void,
  /** Says where the cap comes from, in the error. */
  note?: string,
): AsyncGenerator<Buffer> {
  const reader = new ByteReader(source);
  const head = await reader.read(4);
  let kind: Compression = "none";
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) kind = "gzip";
  else if (head.length === 4 && head.readUInt32LE(0) === 0xfd2fb528) kind = "zstd";
  onKind?.(kind);
  const raw = prepend(head, reader);
  const out = kind === "gzip" ? gunzip(raw) : kind === "zstd" ? unzstd(raw, maxBytes, note) : raw;
  let total = 0;
  for await (const chunk of out) {
    total += chunk.length;
    if (total > maxBytes) throw bombError(maxBytes, note);
    yield chunk;
  }
}
