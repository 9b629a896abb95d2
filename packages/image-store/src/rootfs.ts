/**
 * The copy fallback for hosts without overlayfs: applies layer snapshots
 * (lowest first) onto one directory, honouring both whiteout forms a snapshot
 * may hold (overlay char 0:0 devices, or AUFS `.wh.` files) and opaque
 * directories (listed in the snapshot's `<dir>.json` sidecar, since Node
 * cannot read the `trusted.overlay.opaque` xattr).
 */
import { chmod, chown, cp, lstat, mkdir, readdir, readFile, rm, utimes } from "node:fs/promises";
import { join } from "node:path";

async function readOpaque(layer: string): Promise<Set<string>> {
  try {
    const meta = JSON.parse(await readFile(`${layer}.json`, "utf8")) as { opaque?: string[] };
    return new Set(meta.opaque ?? []);
  } catch {
    return new Set();
  }
}

async function applyDir(src: string, dest: string, rel: string, opaque: Set<string>): Promise<void> {
  const names = await readdir(src);
  if (opaque.has(rel) || names.includes(".wh..wh..opq")) {
    for (const n of await readdir(dest)) await rm(join(dest, n), { recursive: true, force: true });
  }
  for (const n of names) {
    if (n.startsWith(".wh.") && n !== ".wh..wh..opq")
      await rm(join(dest, n.slice(4)), { recursive: true, force: true });
  }
  for (const n of names) {
    if (n.startsWith(".wh.")) continue;
    const s = join(src, n);
    const d = join(dest, n);
    const childRel = rel === "" ? n : `${rel}/${n}`;
    const st = await lstat(s);
    if (st.isCharacterDevice() && st.rdev === 0) {
      await rm(d, { recursive: true, force: true });
    } else if (st.isDirectory()) {
      const have = await lstat(d).catch(() => undefined);
      if (have && !have.isDirectory()) await rm(d, { force: true });
      if (!have?.isDirectory()) await mkdir(d);
      await applyDir(s, d, childRel, opaque);
      if (process.getuid?.() === 0) await chown(d, st.uid, st.gid);
      await chmod(d, st.mode & 0o7777);
      await utimes(d, st.atime, st.mtime);
    } else if (st.isFile() || st.isSymbolicLink()) {
      await rm(d, { recursive: true, force: true });
      await cp(s, d, { preserveTimestamps: true, verbatimSymlinks: true });
      if (process.getuid?.() === 0 && st.isFile()) await chown(d, st.uid, st.gid);
    }
    // Device nodes and FIFOs are not copied: fs.cp cannot, and runtimes provide /dev.
  }
}

/**
 * Materialises an image's root filesystem from its layer snapshots (as
 * `resolveImage().layers` lists them, lowest first) into `dest`, for runtimes
 * that cannot mount overlayfs. Hard links between files become copies.
 *
 * @example
 * const img = await images.resolveImage("busybox");
 * await materializeRootfs(img.layers, "/var/lib/servin/containers/abc/rootfs");
 */
export async function materializeRootfs(layers: string[], dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const layer of layers) await applyDir(layer, dest, "", await readOpaque(layer));
}
