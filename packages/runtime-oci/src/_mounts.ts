/** Host mounts Servin makes: container rootfs overlays (or copies), the pod's /dev/shm tmpfs, and propagation fixes. */
import { lstat, mkdir, readdir, readFile, rm, unlink } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { CriError } from "@servin/cri-types";
import { run, runOk } from "./_exec.js";

export interface MountInfo {
  mountPoint: string;
  /** Optional fields: "shared:N", "master:N", … */
  optional: string[];
  fsType: string;
}

/** Parses /proc/self/mountinfo. */
export async function readMountInfo(): Promise<MountInfo[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
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

export async function isMountPoint(path: string): Promise<boolean> {
  const target = resolve(path);
  return (await readMountInfo()).some((m) => m.mountPoint === target);
}

/** Unmounts `path` (all stacked mounts) if it is a mount point; missing paths are fine. */
export async function unmountAll(path: string): Promise<void> {
  for (let i = 0; i < 8 && (await isMountPoint(path)); i++) {
    const r = await run("umount", [path]);
    if (r.code !== 0) {
      // Busy (a process still has it open): detach it so removal can go on.
      await run("umount", ["-l", path]);
    }
  }
}

/** The maximum mount(2) data size is one page; longer lowerdir lists cannot be mounted directly. */
const MOUNT_DATA_MAX = 4000;

let overlaySupported: boolean | undefined;
async function hasOverlay(): Promise<boolean> {
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
 * Mounts the container rootfs at `target`: overlay of `layers` (lowest first,
 * as RuntimeImage gives them — overlayfs wants lowerdir top-first, so they are
 * reversed) with a per-container upper/work dir. Falls back to copying the
 * layers into `copyDir` when overlayfs is unavailable or fails.
 */
export async function mountRootfs(opts: {
  layers: string[];
  upper: string;
  work: string;
  target: string;
  copyDir: string;
  /** Skip overlayfs (tests of the fallback). */
  forceCopy?: boolean;
}): Promise<"overlay" | "copy"> {
  await mkdir(opts.target, { recursive: true });
  const lower = [...opts.layers].reverse().join(":");
  if (
    !opts.forceCopy &&
    (await hasOverlay()) &&
    lower.length + opts.upper.length + opts.work.length < MOUNT_DATA_MAX
  ) {
    await mkdir(opts.upper, { recursive: true });
    await mkdir(opts.work, { recursive: true });
    const data = `lowerdir=${lower},upperdir=${opts.upper},workdir=${opts.work}`;
    const r = await run("mount", ["-t", "overlay", "overlay", "-o", data, opts.target]);
    if (r.code === 0) return "overlay";
  }
  // Copy fallback: apply the layers in order into a private directory. `cp -a`
  // (not fs.cp) because layers hold device nodes, whiteouts among them.
  await mkdir(opts.copyDir, { recursive: true });
  for (const layer of opts.layers) {
    // A whiteout deletes what lower layers have at its path (files or whole dirs).
    for (const rel of await findWhiteouts(layer))
      await rm(join(opts.copyDir, rel), { recursive: true, force: true });
    await runOk("cp", ["-a", "--remove-destination", `${layer}/.`, `${opts.copyDir}/`]);
    for (const rel of await findWhiteouts(opts.copyDir)) await unlink(join(opts.copyDir, rel));
  }
  await runOk("mount", ["--bind", opts.copyDir, opts.target]);
  return "copy";
}

/** Paths (relative) of overlay-style whiteouts — 0/0 character devices — under `dir`. */
async function findWhiteouts(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(rel, e.name);
    if (e.isCharacterDevice()) {
      if ((await lstat(join(dir, p))).rdev === 0) out.push(p);
    } else if (e.isDirectory()) {
      out.push(...(await findWhiteouts(dir, p)));
    }
  }
  return out;
}

/** A tmpfs for the pod's /dev/shm (shared by its containers, as containerd does). */
export async function mountShm(path: string, sizeBytes = 64 << 20): Promise<void> {
  await mkdir(path, { recursive: true });
  if (await isMountPoint(path)) return;
  await runOk("mount", ["-t", "tmpfs", "-o", `nosuid,nodev,noexec,mode=1777,size=${sizeBytes}`, "shm", path]);
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
 * nothing. containerd refuses such mounts; like CRI-O we make the mount that
 * holds the source shared instead (kubelet's volume dirs usually are already).
 */
export async function ensurePropagation(source: string, propagation: "rshared" | "rslave"): Promise<void> {
  const m = await mountOf(source);
  if (!m) throw CriError.invalidArgument(`mount source "${source}": cannot find its mount point`);
  const shared = m.optional.some((o) => o.startsWith("shared:"));
  const slave = m.optional.some((o) => o.startsWith("master:"));
  if (shared || (propagation === "rslave" && slave)) return;
  await runOk("mount", ["--make-shared", m.mountPoint]);
}

/** Removes a directory tree, unmounting what is mounted inside first. */
export async function removeTree(path: string): Promise<void> {
  const target = resolve(path);
  const inside = (await readMountInfo())
    .map((m) => m.mountPoint)
    .filter((mp) => mp === target || mp.startsWith(`${target}/`))
    .sort((a, b) => b.length - a.length);
  for (const mp of inside) await unmountAll(mp);
  await rm(target, { recursive: true, force: true });
}

export async function ensureParent(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}
