/**
 * RemovePodSandbox's tombstones: the answer waits only for a durable mark that the pod is
 * being removed (its containers' own marks came before it); `runtime delete`, the unmounts,
 * the recursive deletes and the cgroup go in the background, after the containers' cleanups,
 * and a start after a crash finishes every marked removal.
 */
import { readdir, readFile, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile } from "@servin/node-kit";
import type { SandboxRecord } from "@servin/runtime-core";
import { removeCgroup } from "../_cgroups.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { removeTree } from "../_mounts.js";
import { removalsOf } from "../container/remove.js";
import { killInfra } from "./_infra.js";
import { removePodNetwork } from "./_network.js";
import { infraCgroup, monitorCgroup, type SandboxState } from "./_state.js";

/** What a tombstone holds: enough to finish the removal without the core's record. */
interface Tombstone {
  id: string;
  state: SandboxState;
}

const ID = /^[0-9a-f]{64}$/;

/** Removals running now, per backend (a WeakMap, so a closed backend's entry goes with it). */
const running = new WeakMap<OciContext, Map<string, Promise<void>>>();

function runningOf(ctx: OciContext): Map<string, Promise<void>> {
  let m = running.get(ctx);
  if (!m) {
    m = new Map();
    running.set(ctx, m);
  }
  return m;
}

/** Persistent (`<root>`): pod files there outlive a reboot, so their tombstones must too. */
export function tombstoneDir(ctx: OciContext): string {
  return join(ctx.root, "sandbox-removals");
}

/**
 * Durably marks the pod as being removed (fsynced before it returns), then
 * starts the removal of everything the backend made for it, without waiting.
 * A second call for the same pod while its removal runs starts nothing new.
 */
export async function markAndRemove(
  ctx: OciContext,
  sandbox: SandboxRecord,
  state: SandboxState,
): Promise<void> {
  const id = sandbox.id;
  if (runningOf(ctx).has(id)) return;
  const tomb: Tombstone = { id, state };
  await atomicWriteFile(join(tombstoneDir(ctx), id), JSON.stringify(tomb), { mode: 0o600 });
  schedule(ctx, tomb);
}

/** `after`: what must be done first (at a start: the container removals a crash interrupted). */
function schedule(ctx: OciContext, tomb: Tombstone, after?: Promise<void>): void {
  const m = runningOf(ctx);
  if (m.has(tomb.id)) return;
  const p = (after ?? Promise.resolve())
    .then(() => finishRemoval(ctx, tomb))
    .catch((err) =>
      ctx.logger.warn(
        `pod sandbox "${tomb.id}": removal not finished (${(err as Error).message}); retried at next start`,
      ),
    )
    .finally(() => m.delete(tomb.id));
  m.set(tomb.id, p);
}

/** Every step is idempotent: a removal cut short by a crash is simply run again. */
async function finishRemoval(ctx: OciContext, { id, state }: Tombstone): Promise<void> {
  // Its containers' cleanups still hold cgroups inside the pod's (and a conmon may still be leaving).
  await Promise.all(removalsOf(ctx, id));
  // `delete --force` also kills an infra that was created but never started (a cut-short RunPodSandbox);
  // an infra started directly is killed, found by its cgroup (or, never recorded, by its launch chain).
  if (state.infra === "process") await killInfra(ctx.cgroupMode, infraCgroup(state, id), id, state.pid);
  else await runtimeIfKnown(ctx, state.runtime)?.delete(id);
  // The pod files go after the network: until then they mark the pod live for start-up reconcile.
  await Promise.all([
    removePodNetwork(ctx, id),
    removeTree(paths.bundle(ctx, id)),
    removeTree(paths.podRun(ctx, id)),
    unlink(join(paths.sandboxExitDir(ctx), id)).catch(() => {}),
    unlink(join(paths.socketDir(ctx), id)).catch(() => {}),
  ]);
  await rm(paths.podData(ctx, id), { recursive: true, force: true });
  ctx.sandboxExits.forget(id);
  ctx.cpuSamples.delete(id);
  // Our pod cgroup goes entirely; in a kubelet-owned one only our conmon cgroup.
  const left = state.ownCgroup
    ? await removeCgroup(ctx.cgroupMode, state.cgroupParent)
    : [
        ...(await removeCgroup(ctx.cgroupMode, monitorCgroup(state))),
        ...(state.infra === "process" ? await removeCgroup(ctx.cgroupMode, infraCgroup(state, id)) : []),
      ];
  if (left.length > 0) throw new Error(`cgroups still busy: ${left.join(", ")}`);
  await unlink(join(tombstoneDir(ctx), id)).catch(() => {});
}

/** True while the pod's background removal runs (its record is gone from the core already). */
export function isBeingRemoved(ctx: OciContext, id: string): boolean {
  return runningOf(ctx).has(id);
}

/**
 * Start-up: finishes every removal a crash (or a busy cgroup) left marked, each once `after` has
 * settled (the interrupted container removals: they hold cgroups inside the pods'). Never throws.
 */
export async function resumeRemovals(ctx: OciContext, after?: Promise<void>): Promise<void> {
  const dir = tombstoneDir(ctx);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!ID.test(name)) continue;
    try {
      const tomb = JSON.parse(await readFile(join(dir, name), "utf8")) as Tombstone;
      if (tomb.id !== name || !tomb.state) throw new Error("unreadable tombstone");
      ctx.logger.info(`pod sandbox "${name}": finishing its removal`);
      schedule(ctx, tomb, after);
    } catch (err) {
      ctx.logger.warn(`pod sandbox removal "${name}": ${(err as Error).message}`);
    }
  }
}

/** Resolves once the removals running now have finished (or failed and been logged); later ones are not waited for. */
export async function removalsRunning(ctx: OciContext): Promise<void> {
  await Promise.all([...runningOf(ctx).values()]);
}

/** Resolves once every removal started so far has finished (or failed and been logged): close() and tests. */
export async function settleRemovals(ctx: OciContext): Promise<void> {
  const m = runningOf(ctx);
  while (m.size > 0) await Promise.all([...m.values()]);
}
