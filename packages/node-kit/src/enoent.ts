/** ENOENT-only ignoring: a missing file is an answer, every other error stays an error. */

/**
 * True when `err` is a Node system error with code ENOENT (no such file or directory).
 *
 * @example
 * try { return await readFile(path, "utf8"); } catch (err) { if (isEnoent(err)) return ""; throw err; }
 */
export function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === "ENOENT";
}

/**
 * Awaits `operation` and answers `undefined` when it failed with ENOENT; any
 * other failure (EACCES, EIO, ENOTDIR, …) is rethrown, so a permission problem
 * never passes for "not there".
 *
 * @example
 * const st = await ignoreEnoent(lstat(path)); // undefined when path does not exist
 * await ignoreEnoent(unlink(stale));          // removing what is already gone is fine
 */
export async function ignoreEnoent<T>(operation: Promise<T>): Promise<T | undefined> {
  try {
    return await operation;
  } catch (err) {
    if (isEnoent(err)) return undefined;
    throw err;
  }
}
