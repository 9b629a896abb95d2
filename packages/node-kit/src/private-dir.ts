/**
 * Directories only servin's user may enter. Snapshots hold image files with
 * their own modes (setuid binaries, device nodes): a path other users can
 * traverse to them is a local root escalation (containerd CVE-2021-41103), so
 * every directory of a store is 0700, checked and repaired at start-up.
 */
import { chmod, lstat, mkdir } from "node:fs/promises";
import { CriError } from "@servin/cri-types";
import type { Logger } from "./logger.js";

/** Mode bits of a private directory: owner only, as containerd's snapshotter root. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates `dir` (and missing parents of it) 0700, or, when it exists, makes
 * sure it is a real directory owned by this process's user and removes any
 * group/other bits, logging the repair: an administrator's `chmod 755` must
 * not stay silently in effect. Throws CriError FailedPrecondition for a
 * symlink or other non-directory, or a directory another user owns (who could
 * loosen the mode again at any time).
 *
 * @example
 * await ensurePrivateDir("/var/lib/servin/images", logger);
 */
export async function ensurePrivateDir(dir: string, logger: Pick<Logger, "warn">): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE }).catch((err: NodeJS.ErrnoException) => {
    // A file in the way: the lstat below names the problem better than EEXIST.
    if (err.code !== "EEXIST") throw err;
  });
  const st = await lstat(dir);
  if (!st.isDirectory())
    throw CriError.failedPrecondition(`${dir} must be a directory (found something else, e.g. a symlink)`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw CriError.failedPrecondition(`${dir} is owned by uid ${st.uid}, not by servin's uid ${uid}`);
  const mode = st.mode & 0o7777;
  if ((mode & 0o077) !== 0) {
    await chmod(dir, PRIVATE_DIR_MODE);
    logger.warn(
      `${dir} was mode ${mode.toString(8).padStart(4, "0")}, readable or traversable by other users: repaired to 0700`,
    );
  }
}
