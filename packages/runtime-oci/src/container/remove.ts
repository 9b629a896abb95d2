/**
 * RemoveContainer: a durable tombstone answers the call; the cleanup (runtime
 * delete, unmount, every file of the container) runs off the request path,
 * and the next start finishes it after a crash.
 */
import { mkdir, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { syncDir } from "@servin/node-kit";
import type { ContainerRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { removeCgroup } from "../_cgroups.js";
import { type ContainerState, containerState } from "../_container-state.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { containerInit, killContainerProcesses } from "../_monitor-processes.js";
import { removeTree, unmountAll } from "../_mounts.js";
import { lookupContainer, readPid } from "../oci-runtime.js";
import { helperUmount } from "./_unmounter.js";

/**
 * What is left to remove of a container whose record the core is deleting:
 * `<root>/container-removals/<id>`, its directory entry made durable before
 * RemoveContainer answers, unlinked once the cleanup is complete. It lives under the persistent root,
 * like the writable layer it stands for, so it survives a reboot too.
 */
interface Tombstone {
  version: 1;
  id: string;
  sandboxId: string;
  runtime: string;
  rootfs: string;
  /** The container's cgroup: removed by hand when a runtime create was cut short. */
  cgroupsPath: string;
  /** Its create never returned (a crash, or an old-style create that spawned conmon): processes may be starting. */
  halfCreated: boolean;
}

const tombstoneDir = (ctx: OciContext) => join(ctx.root, "container-removals");
const madeDir = new WeakSet<OciContext>();

/**
 * Marks the container removed — durably, so that a crash from here on is
 * finished at the next start — and cleans up in the background: the core
 * then deletes its record, releases the name (reusable at once: a new
 * container gets a new ID, and every path derives from the ID) and answers.
 * The core stopped the container first when it was running; the cleanup's
 * `runtime delete --force` kills whatever is left of one that was lost
 * (UNKNOWN). `signal` is checked once, before the tombstone; idempotent: a
 * removal already under way is not started twice.
 */
export async function removeContainer(
  ctx: OciContext,
  container: ContainerRecord,
  signal?: AbortSignal,
): Promise<void> {
  const id = container.id;
  checkpoint(signal, `remove container "${id}"`);
  if (ctx.removals.has(id)) return;
  const state = containerState(ctx, container);
  const s = container.backendState as Partial<ContainerState>;
  const tombstone: Tombstone = {
    version: 1,
    id,
    sandboxId: container.sandboxId,
    runtime: state.runtime,
    rootfs: state.rootfs,
    cgroupsPath: state.cgroupsPath,
    halfCreated: !(s.version === 1 && s.rootfs && s.upper),
  };
  const dir = tombstoneDir(ctx);
  if (!madeDir.has(ctx)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await syncDir(ctx.root);
    madeDir.add(ctx);
  }
  // One fsync, of the directory: the entry is what must survive a crash. Its
  // content only saves work; a torn or empty one is rebuilt from the ID (tombstoneOf).
  await writeFile(join(dir, id), JSON.stringify(tombstone), { mode: 0o600 });
  await syncDir(dir);
  cleanUpInBackground(ctx, tombstone, CLEANUP_DELAY_MS);
}

/**
 * Finishes the removals a crash interrupted (every tombstone left), in the
 * background and one at a time (the machine may have two cores); returns
 * once all were tried. A failed cleanup keeps its tombstone for the next start.
 */
export async function finishRemovals(ctx: OciContext): Promise<void> {
  const names = await readdir(tombstoneDir(ctx)).catch(() => [] as string[]);
  for (const name of names) {
    if (!/^[0-9a-f]{64}$/.test(name) || ctx.removals.has(name)) continue;
    const tombstone = await tombstoneOf(ctx, name);
    ctx.logger.info(`container "${name}": finishing its removal interrupted by a restart`);
    await cleanUpInBackground(ctx, tombstone);
  }
}

/**
 * The tombstone of `id` as written, or — torn by a crash (its content is not
 * fsynced) — rebuilt from the ID: every path derives from it, the runtime is
 * the one whose state knows the container (else the default), and it is
 * treated as half-created, so that processes, runc state and cgroup are all
 * looked for.
 */
async function tombstoneOf(ctx: OciContext, id: string): Promise<Tombstone> {
  try {
    const t = JSON.parse(await readFile(join(tombstoneDir(ctx), id), "utf8")) as Tombstone;
    if (t.version === 1 && t.id === id && typeof t.rootfs === "string") return t;
  } catch {}
  let runtime = ctx.defaultRuntime;
  for (const [name, rt] of ctx.runtimes) {
    if ((await lookupContainer(rt, id).catch(() => undefined)) !== undefined) {
      runtime = name;
      break;
    }
  }
  return {
    version: 1,
    id,
    sandboxId: "",
    runtime,
    rootfs: join(paths.bundle(ctx, id), "rootfs"),
    cgroupsPath: "",
    halfCreated: true,
  };
}

/** The removals in progress of `sandboxId`'s containers (a pod's removal waits for them: they hold its cgroup). */
export function removalsOf(ctx: OciContext, sandboxId: string): Promise<void>[] {
  return [...ctx.removals.values()].filter((r) => r.sandboxId === sandboxId).map((r) => r.done);
}

/**
 * How long a removal's cleanup waits before it starts: the call that asked for it answers first. Its
 * record's deletion (an unlink and an fsync, on libuv's four threads) would otherwise queue behind the
 * cleanup's own file operations: critest's RemoveContainer p50 went from 6.14 ms (containerd's 4.67) to
 * 5.04 ms (containerd's 5.64) in two sequential runs minutes apart.
 */
const CLEANUP_DELAY_MS = 20;

/** `delayMs`: a removal asked for by a call waits CLEANUP_DELAY_MS; one left by a crash starts at once. */
function cleanUpInBackground(ctx: OciContext, tombstone: Tombstone, delayMs = 0): Promise<void> {
  const { id } = tombstone;
  const done = (delayMs > 0 ? new Promise((r) => setTimeout(r, delayMs)) : Promise.resolve())
    .then(() => cleanUp(ctx, tombstone))
    .then(() => unlink(join(tombstoneDir(ctx), id)))
    .catch((err: unknown) =>
      ctx.logger.error(
        `container "${id}": cleanup after removal failed; retrying at the next start: ${(err as Error).message}`,
      ),
    )
    .finally(() => ctx.removals.delete(id));
  ctx.removals.set(id, { sandboxId: tombstone.sandboxId, done });
  return done;
}

/** Every step is idempotent: a cleanup cut short by a crash is simply run again. */
async function cleanUp(ctx: OciContext, t: Tombstone): Promise<void> {
  const runtime = runtimeIfKnown(ctx, t.runtime);
  const bundle = paths.bundle(ctx, t.id);
  if (t.halfCreated) {
    // Its create was cut short: a conmon it left may still be about to run
    // `runtime create`. Kill that first, so nothing is created after the delete below.
    await killContainerProcesses(t.id);
  }
  // conmon leaves once the container is gone; make sure of it so nothing leaks (SIGKILL: no exit file).
  await killConmon(join(bundle, "conmon.pid"));
  // Never spawned (created, not started): no runtime state to delete, no cgroup.
  if (runtime && (t.halfCreated || (await lookupContainer(runtime, t.id)) !== undefined)) {
    if (t.halfCreated || !(await deleteStopped(ctx, runtime.root, t))) await runtime.delete(t.id);
  }
  if (t.halfCreated) {
    // A runtime create killed before its state was written leaves a state dir its delete does not know of.
    if (runtime) await rm(join(runtime.root, t.id), { recursive: true, force: true });
    const cgroupsPath = t.cgroupsPath || (await cgroupsPathOf(bundle));
    if (cgroupsPath) await removeCgroup(ctx.cgroupMode, cgroupsPath);
  }
  // Through the long-lived unmount helper: no fork of the daemon per removal. The rootfs is the bundle's
  // own (`<bundle>/rootfs`): one look at the mounts finds it with whatever else is below the bundle.
  if (relative(bundle, t.rootfs).startsWith("..")) await unmountAll(t.rootfs, helperUmount);
  await removeTree(bundle, helperUmount);
  await rm(paths.containerData(ctx, t.id), { recursive: true, force: true });
  await unlink(join(paths.exitDir(ctx), t.id)).catch(() => {});
  await unlink(join(paths.socketDir(ctx), t.id)).catch(() => {});
  ctx.exits.forget(t.id);
  ctx.cpuSamples.delete(t.id);
}

/**
 * What `runc delete` does for a stopped container — remove its cgroup and its
 * state directory — without a Go process competing with the calls that
 * follow. Only when runc's layout is known (`runtime.lookup`) and the init
 * recorded in runc's state.json is gone (dead, or its pid no longer in a
 * cgroup of this container); false, touching nothing of runc's, otherwise
 * (`runc delete --force` then kills what lives and removes the rest).
 */
async function deleteStopped(ctx: OciContext, runtimeRoot: string, t: Tombstone): Promise<boolean> {
  const runtime = runtimeIfKnown(ctx, t.runtime);
  if (!runtime?.lookup || !t.cgroupsPath) return false;
  const stateDir = join(runtimeRoot, t.id);
  let pid: unknown;
  try {
    pid = (JSON.parse(await readFile(join(stateDir, "state.json"), "utf8")) as { init_process_pid?: unknown })
      .init_process_pid;
  } catch {
    return false;
  }
  if (typeof pid !== "number" || (await containerInit(pid, t.id)) !== undefined) return false;
  if ((await removeCgroup(ctx.cgroupMode, t.cgroupsPath)).length > 0) return false;
  await rm(stateDir, { recursive: true, force: true });
  return true;
}

/** The cgroup `runtime create` was given (config.json is written at create). */
async function cgroupsPathOf(bundle: string): Promise<string | undefined> {
  try {
    const spec = JSON.parse(await readFile(join(bundle, "config.json"), "utf8"));
    return typeof spec?.linux?.cgroupsPath === "string" ? spec.linux.cgroupsPath : undefined;
  } catch {
    return undefined;
  }
}

async function killConmon(pidFile: string): Promise<void> {
  const pid = await readPid(pidFile);
  if (!pid) return;
  const comm = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
  if (comm.trim() !== "conmon") return; // gone, or the pid was reused
  try {
    process.kill(pid, "SIGKILL");
  } catch {}
}
