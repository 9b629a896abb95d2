/** RemovePodSandbox: stop, `runtime delete`, and remove every file, mount and cgroup of the pod. */
import { rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { removeCgroup } from "../_cgroups.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { removeTree } from "../_mounts.js";
import { removePodNetwork } from "./_network.js";
import { monitorCgroup, sandboxState } from "./_state.js";
import { stopSandbox } from "./stop.js";

/**
 * Removes everything of the pod. Every step is idempotent, so when `signal`
 * aborts (the infra stop's wait, or the cgroup's EBUSY retries) the removal
 * fails with the signal's CriError reason, else DeadlineExceeded, and leaves
 * a pod that a later removal finishes.
 */
export async function removeSandbox(
  ctx: OciContext,
  sandbox: SandboxRecord,
  signal?: AbortSignal,
): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  await stopSandbox(ctx, sandbox, signal);
  const id = sandbox.id;
  await runtimeIfKnown(ctx, state.runtime)?.delete(id);
  // Before the pod files go: they mark the pod live for start-up reconcile until its network is released.
  await removePodNetwork(ctx, sandbox);
  await removeTree(paths.bundle(ctx, id));
  await removeTree(paths.podRun(ctx, id));
  await rm(paths.podData(ctx, id), { recursive: true, force: true });
  await unlink(join(paths.sandboxExitDir(ctx), id)).catch(() => {});
  await unlink(join(paths.socketDir(ctx), id)).catch(() => {});
  ctx.sandboxExits.forget(id);
  ctx.cpuSamples.delete(id);
  // Our pod cgroup goes entirely; in a kubelet-owned one only our conmon cgroup.
  const left = await removeCgroup(
    ctx.cgroupMode,
    state.ownCgroup ? state.cgroupParent : monitorCgroup(state),
    signal,
  );
  checkpoint(signal, `remove pod sandbox "${id}"`);
  if (left.length > 0) ctx.logger.warn(`sandbox "${id}": cgroups still busy: ${left.join(", ")}`);
}
