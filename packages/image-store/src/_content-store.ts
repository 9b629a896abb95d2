/**
 * The content-addressed blob store: `blobs/sha256/<hex>`. A blob streams into
 * `ingest/`, is hashed and counted on the way, fsynced, and only then renamed
 * under its digest, so a visible blob is always complete and verified.
 * Concurrent writes of one digest share a single download.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { syncDir } from "./_atomic.js";
import { digestHex, isSha256Digest } from "./_digest.js";

export class BlobVerifyError extends Error {}

export type IngestProgress = (current: number, total: number) => void;

export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.blobDir = join(root, "blobs", "sha256");
    this.ingestDir = join(root, "ingest");
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true });
    // Whatever an interrupted run left half-written is garbage: no blob is visible before its rename.
    await rm(this.ingestDir, { recursive: true, force: true });
    await mkdir(this.ingestDir, { recursive: true });
  }

  path(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  async has(digest: string, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.path(digest));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  /**
   * Stores the blob `digest` of `size` bytes from `open()` unless present.
   * Identical concurrent calls share one write. `open` is called again on each
   * retry, so it can restart a download.
   */
  ingest(
    digest: string,
    size: number | undefined,
    source: () => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>,
    onProgress?: IngestProgress,
  ): Promise<void> {
    const running = this.inflight.get(digest);
    if (running) return running;
    const p = (async () => {
      if (await this.has(digest, size)) return;
      const tmp = join(this.ingestDir, `${digestHex(digest)}.${randomBytes(6).toString("hex")}`);
      try {
        const got = await this.writeTemp(tmp, await source(), size, onProgress);
        if (got.digest !== digest)
          throw new BlobVerifyError(`blob ${digest}: content digest is ${got.digest}`);
        await rename(tmp, this.path(digest));
        await syncDir(this.blobDir);
      } finally {
        await rm(tmp, { force: true });
      }
    })().finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, p);
    return p;
  }

  /** Stores a blob whose digest is learnt from its content (docker-archive layers). */
  async ingestUnknown(source: AsyncIterable<Uint8Array>): Promise<{ digest: string; size: number }> {
    const tmp = join(this.ingestDir, `unknown.${randomBytes(8).toString("hex")}`);
    try {
      const got = await this.writeTemp(tmp, source, undefined);
      if (!(await this.has(got.digest, got.size))) {
        await rename(tmp, this.path(got.digest));
        await syncDir(this.blobDir);
      }
      return got;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async writeTemp(
    tmp: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    size: number | undefined,
    onProgress?: IngestProgress,
  ): Promise<{ digest: string; size: number }> {
    const hash = createHash("sha256");
    let n = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        n += chunk.length;
        if (size !== undefined && n > size) {
          cb(new BlobVerifyError(`blob is larger than its declared ${size} bytes`));
          return;
        }
        hash.update(chunk);
        onProgress?.(n, size ?? n);
        cb(null, chunk);
      },
    });
    // A write stream keeps writes queued and batched (writev) while the
    // network delivers, instead of one thread-pool round trip per chunk.
    await pipeline(
      source,
      count,
      createWriteStream(tmp, { flags: "wx", mode: 0o644, highWaterMark: 1 << 20 }),
    );
    if (size !== undefined && n !== size) throw new BlobVerifyError(`blob has ${n} bytes, expected ${size}`);
    // fsync works on the inode: a fresh descriptor flushes what the stream wrote.
    const fh = await open(tmp, "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { digest: `sha256:${hash.digest("hex")}`, size: n };
  }

  read(digest: string): AsyncIterable<Buffer> {
    return createReadStream(this.path(digest), { highWaterMark: 256 * 1024 });
  }

  /** Reads a small blob (manifest, config), refusing anything over `cap` bytes. */
  async readSmall(digest: string, cap: number, what: string): Promise<Buffer> {
    const st = await stat(this.path(digest));
    if (st.size > cap)
      throw new BlobVerifyError(`${what} ${digest} is ${st.size} bytes, over the ${cap}-byte cap`);
    return readFile(this.path(digest));
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.blobDir);
    return names.map((n) => `sha256:${n}`).filter(isSha256Digest);
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Bytes and inodes used by the stored blobs. */
  isInflight(digest: string): boolean {
    return this.inflight.has(digest);
  }
}
