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
import { syncDir } from "@servin/node-kit";
import { digestHex, isSha256Digest } from "./_digest.js";
import { SharedOperation } from "./_shared.js";
import type { BlobTee } from "./_tee.js";

export class BlobVerifyError extends Error {}

/** A caller of `ingest` whose own signal aborted (the shared download goes on for the others). */
export class IngestAbortedError extends Error {}

export type IngestProgress = (current: number, total: number) => void;

export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;
  private readonly inflight = new Map<
    string,
    { op: SharedOperation<void>; listeners: Set<IngestProgress> }
  >();
  /** Deletions in progress: `has`/`ingest` wait for them, so a blob GC is removing is never taken as present. */
  private readonly deleting = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.blobDir = join(root, "blobs", "sha256");
    this.ingestDir = join(root, "ingest");
  }

  async init(): Promise<void> {
    await mkdir(this.blobDir, { recursive: true, mode: 0o700 });
    // Whatever an interrupted run left half-written is garbage: no blob is visible before its rename.
    await rm(this.ingestDir, { recursive: true, force: true });
    await mkdir(this.ingestDir, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    return join(this.blobDir, digestHex(digest));
  }

  async has(digest: string, size?: number): Promise<boolean> {
    await this.deleting.get(digest);
    try {
      const st = await stat(this.path(digest));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  /**
   * Stores the blob `digest` of `size` bytes from `source()` unless present.
   * Identical concurrent calls share one write; each caller gets the progress
   * and waits with its own `signal`, and the shared download (whose source
   * gets the shared signal) is cancelled only when every caller gave up.
   * `source` is called again on each retry, so it can restart a download.
   * `tee`, when this call starts the download, gets every byte as it is hashed (for an unpack that
   * runs alongside), then its end: after the digest verified, or with the error; otherwise it is
   * detached and its reader reads the stored blob.
   */
  async ingest(
    digest: string,
    size: number | undefined,
    source: (signal: AbortSignal) => Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>,
    onProgress?: IngestProgress,
    signal?: AbortSignal,
    tee?: BlobTee,
  ): Promise<void> {
    await this.deleting.get(digest);
    let entry = this.inflight.get(digest);
    if (!entry || entry.op.abandoned) {
      const listeners = new Set<IngestProgress>();
      const fanOut: IngestProgress = (current, total) => {
        for (const l of listeners) l(current, total);
      };
      const op: SharedOperation<void> = new SharedOperation(
        async (shared) => {
          if (await this.has(digest, size)) {
            tee?.detach();
            return;
          }
          const tmp = join(this.ingestDir, `${digestHex(digest)}.${randomBytes(6).toString("hex")}`);
          try {
            const got = await this.writeTemp(tmp, await source(shared), size, fanOut, tee);
            if (got.digest !== digest)
              throw new BlobVerifyError(`blob ${digest}: content digest is ${got.digest}`);
            // The unpack alongside may commit its snapshot only after this (it waits for ingest()).
            tee?.end();
            await rename(tmp, this.path(digest));
            await syncDir(this.blobDir);
          } catch (err) {
            tee?.end(err);
            throw err;
          } finally {
            await rm(tmp, { force: true });
          }
        },
        // Nobody waits any more: a later caller starts afresh instead of joining a cancelled download.
        () => {
          if (this.inflight.get(digest)?.op === op) this.inflight.delete(digest);
        },
      );
      const created = { op, listeners };
      op.promise
        .finally(() => {
          if (this.inflight.get(digest) === created) this.inflight.delete(digest);
        })
        .catch(() => undefined);
      this.inflight.set(digest, created);
      entry = created;
    }
    const { op, listeners } = entry;
    if (onProgress) listeners.add(onProgress);
    try {
      await op.join(signal, () => new IngestAbortedError(`download of blob ${digest} was cancelled`));
    } finally {
      if (onProgress) listeners.delete(onProgress);
    }
  }

  /** Stores a blob whose digest is learnt from its content (docker-archive layers). */
  async ingestUnknown(
    source: AsyncIterable<Uint8Array>,
    lease?: (digest: string) => void,
  ): Promise<{ digest: string; size: number }> {
    const tmp = join(this.ingestDir, `unknown.${randomBytes(8).toString("hex")}`);
    try {
      const got = await this.writeTemp(tmp, source, undefined);
      // Leased before it becomes visible, so no GC can take it before the import records it.
      lease?.(got.digest);
      await this.deleting.get(got.digest);
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
    tee?: BlobTee,
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
        if (tee) tee.push(chunk).then(() => cb(null, chunk), cb);
        else cb(null, chunk);
      },
    });
    tee?.start();
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

  /** Deletes a blob. Callers check leases right before calling: the deletion is registered synchronously. */
  delete(digest: string): Promise<void> {
    const p = rm(this.path(digest), { force: true }).finally(() => {
      if (this.deleting.get(digest) === p) this.deleting.delete(digest);
    });
    this.deleting.set(digest, p);
    return p;
  }

  /** True while a download of `digest` is running. */
  isInflight(digest: string): boolean {
    return this.inflight.has(digest);
  }
}
