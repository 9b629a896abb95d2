/** Atomic file writes: temp file in the same directory, fsync, rename, fsync of the directory. */
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * What every temp file of `atomicWriteFile` has in its name: `<name>.tmp-<pid>-<random>`.
 * A file carrying it is a write that never reached its rename; the target still
 * holds the previous version, so a loader may delete it (see `isAtomicTempFile`).
 */
export const ATOMIC_TEMP_MARKER = ".tmp-";

export interface AtomicWriteOptions {
  /** Mode of a newly created file (the umask applies). Default 0o600: state is private unless said otherwise. */
  mode?: number;
  /**
   * fsync the file before the rename and the directory after it. Default true.
   * Only `false` for files that do not outlive a host crash anyway (e.g. files
   * under /run regenerated on the next create): it saves a few ms per write.
   */
  sync?: boolean;
}

/**
 * Writes `data` to `path` so that readers (and a host crash) see either the
 * old or the new content, never a mix: the data goes to a temp file in the
 * same directory (a rename across file systems is not atomic), which is
 * fsynced, renamed over `path`, and the directory fsynced so that the rename
 * itself survives a crash. On failure the temp file is removed.
 *
 * @example
 * await atomicWriteFile("/var/lib/servin/images/state.json", JSON.stringify(state), { mode: 0o600 });
 */
export async function atomicWriteFile(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const sync = options.sync ?? true;
  const dir = dirname(path);
  const temp = join(
    dir,
    `${basename(path)}${ATOMIC_TEMP_MARKER}${process.pid}-${randomBytes(6).toString("hex")}`,
  );
  try {
    const handle = await open(temp, "wx", options.mode ?? 0o600);
    try {
      await handle.writeFile(data);
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  if (sync) await syncDir(dir);
}

/**
 * fsyncs a directory, making a rename, create or unlink in it durable: without
 * it a crash can bring back the old directory entry.
 *
 * @example
 * await rename(tmp, join(blobDir, digest));
 * await syncDir(blobDir);
 */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * True for the name of a temp file `atomicWriteFile` left behind (the process
 * died between create and rename).
 *
 * @example
 * for (const name of await readdir(dir)) if (isAtomicTempFile(name)) await rm(join(dir, name), { force: true });
 */
export function isAtomicTempFile(name: string): boolean {
  return name.includes(ATOMIC_TEMP_MARKER);
}
