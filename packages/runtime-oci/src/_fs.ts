/** Reads confined to a rootfs (atomic writes and disk usage come from @servin/node-kit). */
import { lstat, open, readlink } from "node:fs/promises";
import { join, posix } from "node:path";

/**
 * Reads `path` as seen from inside `root`: symlinks (absolute or relative)
 * are resolved against the rootfs, never the host — an image's
 * /etc/passwd -> /host/etc/passwd link must not read the host's file.
 */
export async function readFileInRoot(root: string, path: string): Promise<string | undefined> {
  let parts = posix.normalize(`/${path}`).split("/").filter(Boolean);
  const resolved: string[] = [];
  for (let hops = 0; parts.length > 0 && hops < 64; ) {
    const part = parts.shift() as string;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      hops++;
      const link = await readlink(host);
      const rest = link.split("/").filter(Boolean);
      if (link.startsWith("/")) resolved.length = 0;
      parts = [...rest, ...parts];
      continue;
    }
    resolved.push(part);
  }
  try {
    const fh = await open(join(root, ...resolved), "r");
    try {
      return await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
