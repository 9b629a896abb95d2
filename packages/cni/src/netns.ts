/**
 * Network namespaces owned by servin, pinned to files (a bind mount of the nsfs inode), so they
 * outlive every process and are shared by all of a pod's containers by path. Node cannot
 * setns(2), so util-linux `unshare --net=FILE` creates and pins one in a single helper
 * process (CRI-O's `pinns` does the same), which also brings `lo` up inside it.
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CriError } from "@servin/cri-types";
import { defaultPaths, ignoreEnoent } from "@servin/node-kit";

const run = promisify(execFile);

/** The default home of servin's pinned namespaces, `<state dir>/netns` (/run/servin/netns as root; `ip netns` uses /run/netns). */
export const DEFAULT_NETNS_DIR = join(defaultPaths().stateDir, "netns");
/** Pod sandbox IDs and CNI container IDs: alphanumerics plus `_ . -` (CNI spec), never a path. */
const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,254}$/;

/** A pinned namespace file found in the netns directory. */
export interface NetnsEntry {
  id: string;
  path: string;
  /** False for a file left without its mount (a crash between create and pin): remove it. */
  mounted: boolean;
}

/** Throws InvalidArgument unless `id` can name a file and a CNI container. */
export function checkId(id: string, what = "id"): void {
  if (!ID_PATTERN.test(id)) {
    throw CriError.invalidArgument(`${what} "${id}": expected 1-255 letters, digits, "_", "." or "-"`);
  }
}

/** The path of `id`'s namespace in `dir`. */
export function netnsPath(dir: string, id: string): string {
  checkId(id);
  return join(dir, id);
}

/**
 * Creates (or finds, on a retry) the pinned network namespace of `id` under `dir`, with `lo`
 * up, and answers its path. Idempotent: a namespace already pinned there is reused.
 *
 * @example
 * const path = await createNetns("/run/servin/netns", "3f2a9c"); // "/run/servin/netns/3f2a9c"
 */
export async function createNetns(dir: string, id: string): Promise<string> {
  const { path, pinned } = await netnsMountPoint(dir, id);
  if (pinned) return path;
  try {
    // One process: unshare(CLONE_NEWNET), bind-mount /proc/self/ns/net onto `path`, then run
    // `ip link set lo up` inside the new namespace. Loopback is the runtime's job (CNI spec).
    await run("unshare", [`--net=${path}`, "ip", "link", "set", "lo", "up"], { timeout: 30_000 });
  } catch (err) {
    await removeNetns(path).catch(() => {});
    const e = err as { stderr?: string; message: string };
    throw CriError.internal(`create network namespace ${path}: ${(e.stderr || e.message).trim()}`, err);
  }
  return path;
}

/**
 * The mount point of `id`'s namespace, for a caller that creates and pins the namespace in
 * its own first process (`unshare --net=PATH …`, as CRI-O's pinns does: one exec fewer than
 * createNetns, and the pod's other steps need not wait for it). `pinned` is true when a
 * namespace is pinned there already (a retry): join that one instead. The caller brings `lo`
 * up; removeNetns removes the file, pinned or not.
 *
 * @example
 * const { path, pinned } = await netnsMountPoint("/run/servin/netns", "3f2a9c");
 * if (!pinned) spawnSync("unshare", [`--net=${path}`, "ip", "link", "set", "lo", "up"]);
 */
export async function netnsMountPoint(dir: string, id: string): Promise<{ path: string; pinned: boolean }> {
  const path = netnsPath(dir, id);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  if (await isPinned(dir, path)) return { path, pinned: true };
  await writeFile(path, "", { mode: 0o444 });
  return { path, pinned: false };
}

/**
 * Unmounts and deletes a pinned namespace file. Idempotent: a missing file or a file no
 * longer mounted is fine. The namespace itself dies when nothing else holds it.
 *
 * @example
 * await removeNetns("/run/servin/netns/3f2a9c");
 */
export async function removeNetns(path: string): Promise<void> {
  const st = await ignoreEnoent(stat(path));
  if (st === undefined) return;
  const parent = await stat(join(path, ".."));
  if (st.dev !== parent.dev) {
    try {
      await run("umount", [path], { timeout: 30_000 });
    } catch (err) {
      const after = await ignoreEnoent(stat(path));
      if (after !== undefined && after.dev !== parent.dev) {
        const e = err as { stderr?: string; message: string };
        throw CriError.internal(`remove network namespace ${path}: ${(e.stderr || e.message).trim()}`, err);
      }
    }
  }
  await rm(path, { force: true });
}

/**
 * The namespace files under `dir` (for reconciliation after a restart).
 *
 * @example
 * for (const ns of await listNetns("/run/servin/netns")) if (!live.has(ns.id)) await removeNetns(ns.path);
 */
export async function listNetns(dir: string): Promise<NetnsEntry[]> {
  const names = (await ignoreEnoent(readdir(dir))) ?? [];
  const out: NetnsEntry[] = [];
  for (const id of names.sort()) {
    if (!ID_PATTERN.test(id)) continue;
    const path = join(dir, id);
    const st = await ignoreEnoent(stat(path));
    if (st === undefined || !st.isFile()) continue;
    out.push({ id, path, mounted: await isPinned(dir, path) });
  }
  return out;
}

/** A bind-mounted nsfs file lives on another device than the directory holding it. */
async function isPinned(dir: string, path: string): Promise<boolean> {
  const [d, f] = await Promise.all([stat(dir), ignoreEnoent(stat(path))]);
  return f !== undefined && f.dev !== d.dev;
}
