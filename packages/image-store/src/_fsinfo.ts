/** ImageFsInfo for the disk backend: bytes and inodes really used under the image directory. */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { FilesystemInfo } from "@servin/cri-types";
import { nowNanos } from "@servin/cri-types";

/** Sums allocated bytes (st_blocks × 512) and counts inodes (hard links once) under `dir`. */
export async function diskUsage(dir: string): Promise<{ bytes: number; inodes: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  let inodes = 0;
  const walk = async (path: string): Promise<void> => {
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(path, { bigint: false });
    } catch {
      return; // removed while we walked
    }
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1) {
      if (seen.has(key)) return;
      seen.add(key);
    }
    inodes++;
    bytes += st.blocks * 512;
    if (st.isDirectory()) {
      let names: string[] = [];
      try {
        names = await readdir(path);
      } catch {
        return;
      }
      for (const n of names) await walk(join(path, n));
    }
  };
  await walk(dir);
  return { bytes, inodes };
}

/**
 * Reports the image directory the way containerd reports its snapshotter
 * root: the mountpoint field names the directory kubelet/cAdvisor resolve to
 * a device. Results are cached until the store changes (`generation`).
 */
export function createFsInfo(dir: string): { get(generation: number): Promise<FilesystemInfo> } {
  let cached: { generation: number; at: number; bytes: number; inodes: number } | undefined;
  return {
    async get(generation) {
      if (!cached || cached.generation !== generation || Date.now() - cached.at > 60_000) {
        const u = await diskUsage(dir);
        cached = { generation, at: Date.now(), ...u };
      }
      return {
        imageFilesystems: [
          {
            timestamp: nowNanos(),
            fsId: { mountpoint: dir },
            usedBytes: { value: cached.bytes },
            inodesUsed: { value: cached.inodes },
          },
        ],
        containerFilesystems: [],
      };
    },
  };
}
