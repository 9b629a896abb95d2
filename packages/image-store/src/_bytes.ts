/**
 * Bytes in chunks: a pull-based reader over an async chunk source (exact reads, bounded body streams,
 * skips), and `ownBytes` to keep chunks without the buffers behind them.
 */

/**
 * The chunks' bytes in one buffer that keeps no larger one alive. A chunk is often a slice of a bigger
 * buffer (zlib hands out slices of its 1 MiB output buffer): held while it waits, it would hold all of
 * that. A lone chunk that is most of its buffer is returned as it is; anything else is copied.
 */
export function ownBytes(chunks: readonly Buffer[]): Buffer {
  const only = chunks.length === 1 ? chunks[0] : undefined;
  return only && only.buffer.byteLength <= 2 * only.length ? only : Buffer.concat(chunks);
}

export class ByteReader {
  private readonly it: AsyncIterator<Uint8Array>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    const chunk = Buffer.isBuffer(r.value)
      ? r.value
      : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    return true;
  }

  /** Reads exactly n bytes; returns fewer only at the end of the source. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n && (await this.fill())) {}
    const out = this.buf.subarray(0, Math.min(n, this.buf.length));
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** Yields the next n bytes in the chunks they arrive in; throws if the source ends first. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw new Error("unexpected end of data");
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) {
    }
  }

  /** Yields what is left, in the chunks it arrives in (what is buffered first). */
  async *rest(): AsyncGenerator<Buffer> {
    if (this.buf.length > 0) {
      const b = this.buf;
      this.buf = Buffer.alloc(0);
      yield b;
    }
    while (await this.fill()) {
      const b = this.buf;
      this.buf = Buffer.alloc(0);
      if (b.length > 0) yield b;
    }
  }

  /** Consumes the rest of the source (so that digests cover all of it). */
  async drain(): Promise<number> {
    let n = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (await this.fill()) {
      n += this.buf.length;
      this.buf = Buffer.alloc(0);
    }
    return n;
  }
}
