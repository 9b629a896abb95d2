/** Disk usage of a directory tree as `du` reports it, in the CRI's FilesystemUsage terms. */
import type { BigIntStats } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/** The two numbers of a CRI `FilesystemUsage`: `used_bytes` and `inodes_used`. */
export interface DiskUsage {
  /** Bytes allocated on disk (st_blocks × 512, as `du`; a sparse file counts what it really uses). */
  usedBytes: number;
  /** Inodes: files, directories, symlinks and special files, `path` itself included. */
  inodesUsed: number;
}

/** Entries gone between readdir and lstat (a container writing, a snapshot being removed) are skipped. */
function vanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * Walks `path` without following symlinks and sums what it uses. Each inode
 * is counted once, keyed by (st_dev, st_ino), as `du` does: a file hard-linked
 * twice in the tree (layers sharing content, an image's `busybox` applets)
 * adds its blocks and its inode once, not per name. A missing `path` uses 0;
 * entries removed while walking are skipped; any other error (EACCES, EIO) is
 * thrown rather than under-reported.
 *
 * @example
 * const { usedBytes, inodesUsed } = await diskUsage("/var/lib/servin/images");
 * // → ImageFsInfo { usedBytes: { value: usedBytes }, inodesUsed: { value: inodesUsed } }
 */
export async function diskUsage(path: string): Promise<DiskUsage> {
  const seen = new Set<string>();
  let usedBytes = 0;
  let inodesUsed = 0;
  // An explicit stack, not recursion: a hostile image may nest directories thousands deep.
  const pending = [path];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    let st: BigIntStats;
    try {
      // bigint: inode numbers on xfs/btrfs can exceed 2^53, where number keys would collide.
      st = await lstat(next, { bigint: true });
    } catch (err) {
      if (vanished(err)) continue;
      throw err;
    }
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    inodesUsed++;
    usedBytes += Number(st.blocks) * 512;
    if (!st.isDirectory()) continue;
    let names: string[];
    try {
      names = await readdir(next);
    } catch (err) {
      if (vanished(err)) continue;
      throw err;
    }
    for (const name of names) pending.push(join(next, name));
  }
  return { usedBytes, inodesUsed };
}
