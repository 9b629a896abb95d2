/** Reads a file of an image's merged filesystem straight from its layers, without mounting them. */
import type { Stats } from "node:fs";
import { lstat, readFile, readlink } from "node:fs/promises";
import { join, posix } from "node:path";
import { readOpaqueSidecar } from "./_mounts.js";

/** One layer's copy of a directory: the layer root and the directory's path inside it. */
interface LayerDir {
  layer: string;
  rel: string;
}

type Found =
  | { kind: "dir"; dirs: LayerDir[] }
  | { kind: "file"; path: string }
  | { kind: "link"; target: string };

/**
 * Reads `path` as the container would see it in the overlay of `layers`
 * (lowest first, as RuntimeImage gives them) — what CreateContainer needs
 * (/etc/passwd, /etc/group) before the rootfs is mounted at StartContainer.
 * overlayfs' own rules on the image store's snapshots: the topmost layer
 * holding a name wins; a whiteout (char 0:0 device: the store turned the
 * image's `.wh.` files into those) hides the name in every lower layer; a
 * directory merges with lower directories of the same path unless it is
 * opaque (`trusted.overlay.opaque`, which Node cannot read: the store's
 * `<layer>.json` sidecar lists those); a non-directory hides whatever lower
 * layers have there. Symlinks resolve inside the image (an absolute link
 * restarts at its root), never on the host.
 */
export async function readFileInLayers(layers: readonly string[], path: string): Promise<string | undefined> {
  const sidecars = new Map<string, Promise<Set<string>>>();
  const opaque = async (d: LayerDir): Promise<boolean> => {
    let set = sidecars.get(d.layer);
    if (!set) {
      set = readOpaqueSidecar(d.layer);
      sidecars.set(d.layer, set);
    }
    // An opaque layer root hides nothing overlayfs can express (the image store sets no xattr there).
    return d.rel !== "" && (await set).has(d.rel);
  };
  const root: LayerDir[] = [];
  for (const layer of [...layers].reverse()) {
    const d = { layer, rel: "" };
    root.push(d);
    if (await opaque(d)) break;
  }

  const lookup = async (dirs: LayerDir[], name: string): Promise<Found | undefined> => {
    const below: LayerDir[] = [];
    for (const d of dirs) {
      const rel = posix.join(d.rel, name);
      const host = join(d.layer, rel);
      const st: Stats | undefined = await lstat(host).catch(() => undefined);
      if (st) {
        if (st.isCharacterDevice() && st.rdev === 0) break; // whiteout
        if (st.isDirectory()) {
          const dir = { layer: d.layer, rel };
          below.push(dir);
          if (await opaque(dir)) break;
          continue;
        }
        if (below.length > 0) break; // a directory above hides it
        if (st.isSymbolicLink()) return { kind: "link", target: await readlink(host) };
        return { kind: "file", path: host };
      }
    }
    return below.length > 0 ? { kind: "dir", dirs: below } : undefined;
  };

  let parts = posix.normalize(`/${path}`).split("/").filter(Boolean);
  const stack: LayerDir[][] = [root];
  for (let hops = 0; parts.length > 0 && hops < 64; ) {
    const part = parts.shift() as string;
    if (part === "..") {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const found = await lookup(stack[stack.length - 1] as LayerDir[], part);
    if (!found) return undefined;
    if (found.kind === "link") {
      hops++;
      if (found.target.startsWith("/")) stack.length = 1;
      parts = [...found.target.split("/").filter(Boolean), ...parts];
      continue;
    }
    if (found.kind === "file") {
      if (parts.length > 0) return undefined; // a file where a directory was expected
      return readFile(found.path, "utf8").catch(() => undefined);
    }
    stack.push(found.dirs);
  }
  return undefined;
}
