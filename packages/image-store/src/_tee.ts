/**
 * A bounded hand-off from a blob download to a second reader (the layer unpack), so a layer unpacks
 * while it downloads without ever sitting in memory whole: the writer waits while more than `limit`
 * bytes are queued, and a reader that goes away never blocks the writer (its chunks are dropped).
 */

type TeeState = "pending" | "streaming" | "detached";

export class BlobTee {
  private state: TeeState = "pending";
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private error: unknown;
  private failedFlag = false;
  private readerGone = false;
  private wakeReader: (() => void) | undefined;
  private wakeWriter: (() => void) | undefined;

  constructor(private readonly limit = 4 << 20) {}

  /** True when the stream ended with the writer's error (the download failed, not the reader). */
  get failed(): boolean {
    return this.failedFlag;
  }

  /** True once a download writes into this tee. */
  get streaming(): boolean {
    return this.state === "streaming";
  }

  /** The writer starts: every byte of the blob, from the first, comes through `push`. */
  start(): void {
    if (this.state !== "pending") return;
    this.state = "streaming";
    this.wake();
  }

  /** No download writes here (the blob was present, or another caller's download fetches it). */
  detach(): void {
    if (this.state !== "pending") return;
    this.state = "detached";
    this.wake();
  }

  /** Queues a chunk; resolves once the queue is under the limit again (or the reader is gone). */
  async push(chunk: Buffer): Promise<void> {
    if (this.readerGone || this.ended) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.wake();
    while (this.queued > this.limit && !this.readerGone) {
      await new Promise<void>((r) => {
        this.wakeWriter = r;
      });
    }
  }

  /** The writer is done: the whole verified blob was pushed, or `err` says why not. */
  end(err?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (err !== undefined) {
      this.error = err;
      this.failedFlag = true;
    }
    this.wake();
  }

  /** The reader is gone (or never came): the writer no longer waits for it. */
  close(): void {
    this.readerGone = true;
    this.queue.length = 0;
    this.queued = 0;
    this.wake();
  }

  /**
   * The blob's bytes: streamed from the download when one writes here, else (detached) read from
   * `fallback()` (the content store, once the blob is there).
   */
  async *read(fallback: () => AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    try {
      while (this.state === "pending" && !this.ended) await this.waitForWriter();
      if (this.state !== "streaming") {
        // The download failed before its first byte, or nobody downloads into this tee.
        if (this.failedFlag) throw this.error;
        yield* fallback();
        return;
      }
      for (;;) {
        const chunk = this.queue.shift();
        if (chunk) {
          this.queued -= chunk.length;
          this.wakeWriter?.();
          yield chunk;
          continue;
        }
        if (this.ended) {
          if (this.failedFlag) throw this.error;
          return;
        }
        await this.waitForWriter();
      }
    } finally {
      this.close();
    }
  }

  private waitForWriter(): Promise<void> {
    return new Promise<void>((r) => {
      this.wakeReader = r;
    });
  }

  private wake(): void {
    const r = this.wakeReader;
    this.wakeReader = undefined;
    r?.();
    const w = this.wakeWriter;
    this.wakeWriter = undefined;
    w?.();
  }
}
