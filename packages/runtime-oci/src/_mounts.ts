/** Host mounts Servin makes: container rootfs overlays (or copies), the pod's /dev/shm tmpfs, and propagation fixes. */
import type { Dirent } from "node:fs";
import { lstat, mkdir, readdir, readFile, realpath, rm } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { CriError } from "@servin/cri-types";
import { run, runOk } from "./_exec.js";

export interface MountInfo {
  mountPoint: string;
  /** Optional fields: "shared:N", "master:N", … */
  optional: string[];
  fsType: string;
}

/**
 * `read`, shared: each call answers with a reading that began after the call, and the callers that ask
 * while one is under way share the next (the one under way may have begun before what they just did).
 */
export function sharedReader<T>(read: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = () => {
    const p = read();
    current = p;
    const done = () => {
      if (current === p) current = undefined;
    };
    p.then(done, done);
    return p;
  };
  return () => {
    if (current === undefined) return start();
    next ??= current
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        next = undefined;
        return start();
      });
    return next;
  };
}

/**
 * /proc/self/mountinfo as it was at some moment after the call. The kernel writes the text as it is
 * read, ~6 µs a mount: at 500 mounts (100 kB) a reading costs ~3 ms of CPU, most of it on the thread
 * pool (readFileSync would hold the event loop for all of it), and the container cleanups of a pod's
 * removal all ask at about the same time: they share readings.
 */
const readMountInfoText = sharedReader(() => readFile("/proc/self/mountinfo", "utf8"));

/** Parses /proc/self/mountinfo. */
export async function readMountInfo(): Promise<MountInfo[]> {
  return parseMountInfo(await readMountInfoText());
}

/** Every line of mountinfo `text`, parsed (what readMountInfo answers). */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const [left, right] = line.split(" - ");
    const f = (left ?? "").split(" ");
    const mountPoint = unescapeMount(f[4] ?? "");
    out.push({ mountPoint, optional: f.slice(6), fsType: (right ?? "").split(" ")[0] ?? "" });
  }
  return out;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** A path as mountinfo writes it: space, tab, newline and backslash as octal escapes (the kernel's `mangle`). */
function mangleMountPath(path: string): string {
  return path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

/**
 * The mount points in mountinfo `text` that are `target` or lie below it, deepest first, read in place:
 * one look at the fifth field of each line, no line split into fields. With 200 containers the file is
 * ~100 kB, and a container removal looks at it twice (removeTree): parsing all of it (parseMountInfo) took
 * ~250 µs a time and ~0.5 MB of garbage, ~10 % of the daemon's CPU in a 20-pod teardown; this ~30 µs.
 */
export function mountPointsIn(text: string, target: string, below = true): string[] {
  const want = mangleMountPath(target);
  const found: string[] = [];
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    // ID, parent ID, major:minor and root come first, none with a space in it (paths are mangled).
    let field = start;
    for (let k = 0; k < 4 && field >= 0; k++) {
      const space = text.indexOf(" ", field);
      field = space >= 0 && space < end ? space + 1 : -1;
    }
    if (field >= 0 && text.startsWith(want, field)) {
      const next = text.charCodeAt(field + want.length);
      const exact = next === 32; // " "
      if (exact || (below && next === 47)) {
        const close = text.indexOf(" ", field);
        found.push(exact ? target : unescapeMount(text.slice(field, close < 0 || close > end ? end : close)));
      }
    }
    start = end + 1;
  }
  return found.sort((a, b) => b.length - a.length);
}

export async function isMountPoint(path: string): Promise<boolean> {
  return mountPointsIn(await readMountInfoText(), resolve(path), false).length > 0;
}

/** Runs umount on `path` (`lazy`: `umount -l`), answering its exit code. */
export type Umount = (path: string, lazy: boolean) => Promise<number>;

/** umount forked from this process. */
export const forkUmount: Umount = async (path, lazy) =>
  (await run("umount", lazy ? ["-l", path] : [path])).code;

/** How many times a mount point is unmounted before it is given up on (stacked mounts, a busy one). */
const UNMOUNT_ROUNDS = 8;

/** One umount of `path`; busy (a process still has it open): detached lazily, so removal can go on. */
async function unmountOnce(path: string, umount: Umount): Promise<void> {
  if ((await umount(path, false)) !== 0) await umount(path, true);
}

/**
 * Unmounts `path` (all stacked mounts) if it is a mount point; missing paths are fine. `umount` runs
 * each umount (the container cleanup passes container/_unmounter.ts's, which does not fork the daemon).
 */
export async function unmountAll(path: string, umount: Umount = forkUmount): Promise<void> {
  for (let i = 0; i < UNMOUNT_ROUNDS && (await isMountPoint(path)); i++) await unmountOnce(path, umount);
}

/** The maximum mount(2) data size is one page; longer lowerdir lists cannot be mounted directly. */
export const MOUNT_DATA_MAX = 4000;

let overlaySupported: boolean | undefined;
/** Whether the kernel has overlayfs (loading the module if need be); asked once. */
export async function hasOverlay(): Promise<boolean> {
  if (overlaySupported === undefined) {
    const fs = await readFile("/proc/filesystems", "utf8").catch(() => "");
    overlaySupported = /\boverlay\b/.test(fs);
    if (!overlaySupported) {
      // The module may load on first use.
      overlaySupported = (await run("modprobe", ["overlay"]).catch(() => ({ code: 1 }))).code === 0;
    }
  }
  return overlaySupported;
}

/**
 * The overlay mount options, with absolute layer paths when they fit in one
 * page, else (containerd's trick) relative to the layers' common parent,
 * which `mount` then runs in; undefined when even that is too long.
 */
export function overlayMountPlan(
  layers: string[],
  upper: string,
  work: string,
): { data: string; cwd?: string } | undefined {
  const topFirst = [...layers].reverse();
  const tail = `,upperdir=${resolve(upper)},workdir=${resolve(work)}`;
  const absolute = `lowerdir=${topFirst.map((l) => resolve(l)).join(":")}${tail}`;
  if (absolute.length < MOUNT_DATA_MAX) return { data: absolute };
  const common = commonDir(topFirst.map((l) => resolve(l)));
  if (common === "/") return undefined;
  const rel = topFirst.map((l) => relative(common, resolve(l)));
  // ":" separates layers and cannot be escaped into a relative path safely.
  if (rel.some((r) => r === "" || r.includes(":"))) return undefined;
  const data = `lowerdir=${rel.join(":")}${tail}`;
  return data.length < MOUNT_DATA_MAX ? { data, cwd: common } : undefined;
}

/** The deepest directory containing every one of `paths` (absolute). */
function commonDir(paths: string[]): string {
  const split = paths.map((p) => dirname(p).split("/"));
  const first = split[0] ?? [""];
  let n = 0;
  while (n < first.length && split.every((parts) => parts[n] === first[n])) n++;
  return first.slice(0, n).join("/") || "/";
}

/**
 * The copy fallback: applies the layers, lowest first, into `dest` with
 * overlayfs' semantics — a whiteout (char 0:0 device, or an AUFS `.wh.<name>`
 * file) deletes what lower layers have at its path, an opaque directory hides
 * everything lower layers have inside it, and an entry of another type
 * (directory vs. anything else) replaces the lower one. Opaque directories come
 * from the image store's sidecar `<layer>.json` (`{"opaque": ["rel/dir", …]}`,
 * "" = the layer root), since Node cannot read the `trusted.overlay.opaque`
 * xattr, and from AUFS `.wh..wh..opq` markers. `cp -a` (not fs.cp) copies,
 * because layers hold device nodes.
 */
export async function copyLayers(layers: string[], dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const layer of layers) {
    const plan: LayerPlan = { remove: [], markers: [] };
    await planLayer(layer, dest, "", await readOpaqueSidecar(layer), plan);
    for (const rel of plan.remove) await rm(join(dest, rel), { recursive: true, force: true });
    await runOk("cp", ["-a", "--remove-destination", `${layer}/.`, `${dest}/`]);
    // The markers came along with the copy: they mean something only in a layer.
    for (const rel of plan.markers) await rm(join(dest, rel), { recursive: true, force: true });
  }
}

interface LayerPlan {
  /** Paths (relative) to delete from the destination before the layer is copied over it. */
  remove: string[];
  /** The layer's whiteout / opaque marker files, to delete after the copy. */
  markers: string[];
}

const AUFS_OPAQUE = ".wh..wh..opq";

/** The opaque directories of a layer (its image-store sidecar `<layer>.json`); empty without one. */
export async function readOpaqueSidecar(layer: string): Promise<Set<string>> {
  try {
    const meta = JSON.parse(await readFile(`${layer}.json`, "utf8")) as { opaque?: unknown };
    return new Set(Array.isArray(meta.opaque) ? meta.opaque.filter((d) => typeof d === "string") : []);
  } catch {
    return new Set(); // no sidecar (a layer not from the image store): no opaque directories
  }
}

async function planLayer(layer: string, dest: string, rel: string, opaque: Set<string>, plan: LayerPlan) {
  const entries = await readdir(join(layer, rel), { withFileTypes: true });
  if (opaque.has(rel) || entries.some((e) => e.name === AUFS_OPAQUE)) {
    // Opaque: nothing of the lower layers survives inside this directory.
    const lower = await readdir(join(dest, rel)).catch(() => [] as string[]);
    for (const n of lower) plan.remove.push(join(rel, n));
    for (const e of entries) if (e.name === AUFS_OPAQUE) plan.markers.push(join(rel, e.name));
    // Its subdirectories can still hold whiteouts and markers of their own to clean up after the copy.
    await collectMarkers(layer, rel, entries, plan);
    return;
  }
  for (const e of entries) {
    const p = join(rel, e.name);
    if (e.name === AUFS_OPAQUE) continue;
    if (e.name.startsWith(".wh.")) {
      plan.remove.push(join(rel, e.name.slice(4)));
      plan.markers.push(p);
      continue;
    }
    if (e.isCharacterDevice() && (await lstat(join(layer, p))).rdev === 0) {
      plan.remove.push(p);
      plan.markers.push(p);
      continue;
    }
    const have = await lstat(join(dest, p)).catch(() => undefined);
    if (!have) {
      if (e.isDirectory()) await collectMarkers(layer, p, undefined, plan);
      continue;
    }
    if (e.isDirectory() !== have.isDirectory()) {
      // A directory replacing a file or symlink (or the reverse): cp -a cannot
      // overwrite across types, and must never write through a lower symlink.
      plan.remove.push(p);
      if (e.isDirectory()) await collectMarkers(layer, p, undefined, plan);
    } else if (e.isDirectory()) {
      await planLayer(layer, dest, p, opaque, plan);
    }
  }
}

/** Markers under `rel` in a part of the layer that lands on nothing below: they only need deleting after the copy. */
async function collectMarkers(
  layer: string,
  rel: string,
  known: Dirent[] | undefined,
  plan: LayerPlan,
): Promise<void> {
  const entries = known ?? (await readdir(join(layer, rel), { withFileTypes: true }));
  for (const e of entries) {
    const p = join(rel, e.name);
    if (e.name.startsWith(".wh.")) plan.markers.push(p);
    else if (e.isCharacterDevice() && (await lstat(join(layer, p))).rdev === 0) plan.markers.push(p);
    else if (e.isDirectory()) await collectMarkers(layer, p, undefined, plan);
  }
}

/** The mount options of a pod's /dev/shm tmpfs: 64 MiB, as containerd's. */
export const SHM_OPTIONS = `nosuid,nodev,noexec,mode=1777,size=${64 << 20}`;

/** A tmpfs for the pod's /dev/shm (shared by its containers, as containerd does). */
export async function mountShm(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  if (await isMountPoint(path)) return;
  await runOk("mount", ["-t", "tmpfs", "-o", SHM_OPTIONS, "shm", path]);
}

/** The mount that contains `path` (longest mount point prefix). */
export async function mountOf(path: string): Promise<MountInfo | undefined> {
  const target = resolve(path);
  let best: MountInfo | undefined;
  for (const m of await readMountInfo()) {
    const mp = m.mountPoint;
    const inside = target === mp || target.startsWith(mp === "/" ? "/" : `${mp}/`);
    if (inside && (!best || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/**
 * rshared (BIDIRECTIONAL) needs a shared source mount and rslave
 * (HOST_TO_CONTAINER) a shared or slave one, or the propagation silently does
 * nothing. Like containerd (`ensureShared` / `ensureSharedOrSlave`) the create
 * is refused otherwise: making the host mount shared ourselves would be a
 * global, persistent change to the host (often of `/`). kubelet's volume
 * directories are shared on a systemd host.
 */
export async function requirePropagation(source: string, propagation: "rshared" | "rslave"): Promise<void> {
  // The mount that matters is the one holding the real path (runc follows symlinks too).
  const real = await realpath(source).catch(() => resolve(source));
  const m = await mountOf(real);
  if (!m) throw CriError.invalidArgument(`mount source "${source}": cannot find its mount point`);
  const shared = m.optional.some((o) => o.startsWith("shared:"));
  const slave = m.optional.some((o) => o.startsWith("master:"));
  if (shared || (propagation === "rslave" && slave)) return;
  const mode = propagation === "rshared" ? "PROPAGATION_BIDIRECTIONAL" : "PROPAGATION_HOST_TO_CONTAINER";
  const need = propagation === "rshared" ? "a shared" : "a shared or slave";
  throw CriError.failedPrecondition(
    `mount source "${source}" is mounted on "${m.mountPoint}" but it is not ${need} mount (${mode} needs one; e.g. mount --make-shared ${m.mountPoint})`,
  );
}

/**
 * Removes a directory tree, unmounting first whatever is mounted at it or below (`umount` runs each
 * umount; lazily when a plain one fails): one reading of mountinfo finds them all (deepest first, a
 * stacked mount once per layer), one more confirms they are gone. A mount still there after
 * UNMOUNT_ROUNDS rounds is an error, and nothing is deleted: removing the files through a
 * mount would remove what it shows.
 */
export async function removeTree(path: string, umount: Umount = forkUmount): Promise<void> {
  const target = resolve(path);
  for (let round = 0; ; round++) {
    const mounted = mountPointsIn(await readMountInfoText(), target);
    if (mounted.length === 0) break;
    if (round === UNMOUNT_ROUNDS) {
      throw new Error(`${target}: still mounted after ${round} rounds of unmounting: ${mounted.join(", ")}`);
    }
    for (const mp of mounted) await unmountOnce(mp, umount);
  }
  await rm(target, { recursive: true, force: true });
}

export async function ensureParent(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}
