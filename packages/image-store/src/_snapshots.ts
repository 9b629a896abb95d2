/**
 * Layer snapshots: `snapshots/<diffID hex>/` holds one layer's unpacked diff,
 * shared by every image that has the layer. A snapshot is built under `tmp/`
 * and renamed into place only when complete and verified.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import { atomicWriteFile } from "@servin/node-kit";
import { digestHex, isSha256Digest } from "./_digest.js";
import type { UnpackResult } from "./_unpack.js";
import { UnpackWorkerError, unpackLayerOffThread } from "./_unpack-pool.js";

export interface SnapshotLimits {
  maxLayerBytes: number;
  /** Where `maxLayerBytes` comes from (named in the error when a layer exceeds it). */
  maxLayerBytesNote?: string;
  maxLayerEntries: number;
}

export class SnapshotStore {
  readonly dir: string;
  readonly tmpDir: string;
  private readonly inflight = new Map<string, Promise<UnpackResult | undefined>>();
  /** Deletions in progress: `has`/`ensure` wait for them, so a half-removed snapshot never counts as present. */
  private readonly deleting = new Map<string, Promise<void>>();
  readonly privileged = process.getuid?.() === 0;
  /** Whether `tmp/` carries ext4's top-directory attribute (see markTopDirectory); false before init. */
  spread: Promise<boolean> = Promise.resolve(false);

  constructor(root: string) {
    this.dir = join(root, "snapshots");
    this.tmpDir = join(root, "tmp");
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Half-built snapshots of an interrupted run were never renamed into place: drop them.
    await rm(this.tmpDir, { recursive: true, force: true });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    this.spread = markTopDirectory(this.tmpDir);
  }

  path(diffId: string): string {
    return join(this.dir, digestHex(diffId));
  }

  async has(diffId: string): Promise<boolean> {
    await this.deleting.get(diffId);
    try {
      return (await stat(this.path(diffId))).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * Unpacks the layer unless its snapshot exists; identical concurrent calls share one unpack.
   * `beforeCommit` runs once the layer unpacked and its diffID verified, before the snapshot becomes
   * visible: a layer unpacked while it downloads waits there for its blob's digest (a rejection
   * discards the snapshot).
   */
  ensure(
    diffId: string,
    source: () => AsyncIterable<Uint8Array>,
    limits: SnapshotLimits,
    what: string,
    onBytes?: (n: number) => void,
    beforeCommit?: () => Promise<unknown>,
  ): Promise<UnpackResult | undefined> {
    const running = this.inflight.get(diffId);
    // Another pull's unpack of this layer may fail for a reason of its own (a streamed download that
    // broke, its caller cancelled): this caller then unpacks from its own source.
    if (running) return running.catch(() => this.ensure(diffId, source, limits, what, onBytes, beforeCommit));
    const p = (async () => {
      if (await this.has(diffId)) return undefined;
      await this.spread;
      const tmp = join(this.tmpDir, `${digestHex(diffId)}.${randomBytes(6).toString("hex")}`);
      try {
        const result = await unpackLayerOffThread({
          source: source(),
          dir: tmp,
          expectedDiffId: diffId,
          maxBytes: limits.maxLayerBytes,
          ...(limits.maxLayerBytesNote ? { maxBytesNote: limits.maxLayerBytesNote } : {}),
          maxEntries: limits.maxLayerEntries,
          privileged: this.privileged,
          ...(onBytes ? { onBytes } : {}),
        });
        await beforeCommit?.();
        // The sidecar lists opaque directories for readers that cannot see xattrs (runtime backends that copy layers instead of mounting them; see RuntimeImage.layers).
        await atomicWriteFile(
          `${this.path(diffId)}.json`,
          JSON.stringify({
            diffId,
            whiteoutFormat: result.whiteoutFormat,
            opaque: result.opaque,
            skipped: result.skipped,
          }),
        );
        try {
          await rename(tmp, this.path(diffId));
        } catch (err) {
          // Another process finished the same snapshot first: theirs is as good as ours.
          if (!(await this.has(diffId))) throw err;
        }
        return result;
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        if (err instanceof CriError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        // Faults of this machine are Internal; anything else is the layer's fault.
        if (
          err instanceof UnpackWorkerError ||
          (code && ["ENOSPC", "EACCES", "EPERM", "EMFILE", "ENFILE", "EIO", "EROFS", "EDQUOT"].includes(code))
        ) {
          throw CriError.internal(`unpacking ${what}: ${(err as Error).message}`, err);
        }
        throw CriError.invalidArgument(`unpacking ${what}: ${(err as Error).message}`);
      }
    })().finally(() => this.inflight.delete(diffId));
    this.inflight.set(diffId, p);
    return p;
  }

  isInflight(diffId: string): boolean {
    return this.inflight.has(diffId);
  }

  async list(): Promise<string[]> {
    return (await readdir(this.dir)).map((n) => `sha256:${n}`).filter(isSha256Digest);
  }

  /** Deletes a snapshot. Callers check leases right before calling: the deletion is registered synchronously. */
  delete(diffId: string): Promise<void> {
    const p = (async () => {
      await rm(this.path(diffId), { recursive: true, force: true });
      await rm(`${this.path(diffId)}.json`, { force: true });
    })().finally(() => {
      if (this.deleting.get(diffId) === p) this.deleting.delete(diffId);
    });
    this.deleting.set(diffId, p);
    return p;
  }
}

/**
 * Gives `dir` ext4's top-directory attribute (`chattr +T`), so that each snapshot made in it starts
 * in a block group of its own choosing (the Orlov allocator spreads top directories) instead of its
 * parent's. Without it every snapshot lands in the group of the snapshots before it, and on an ext4
 * without a journal the inode allocator skips each inode freed in the last minutes (ext4's
 * `recently_deleted`, a buffer lookup per freed inode, for every new file): after `rmi` of an image,
 * unpacking a layer of 8,000 small files took 3.1 s instead of 0.66 s, nearly all of it in the kernel.
 * Node has no ioctl, hence e2fsprogs' `chattr`. Elsewhere (no chattr, another filesystem) it answers
 * false and nothing changes.
 */
export function markTopDirectory(dir: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile("chattr", ["+T", dir], { timeout: 5_000 }, (err) => resolve(!err));
  });
}
