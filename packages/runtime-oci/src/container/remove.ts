/** RemoveContainer: force-stop, `runtime delete`, unmount the rootfs, and remove every file of the container. */
import { readFile, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { removeCgroup } from "../_cgroups.js";
import { type ContainerState, containerState } from "../_container-state.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { killContainerProcesses } from "../_monitor-processes.js";
import { removeTree, unmountAll } from "../_mounts.js";
import { readPid } from "../oci-runtime.js";
import { stopContainer } from "./stop.js";

/**
 * Removes everything of the container, force-stopping it first. `signal` is
 * honoured until `runtime delete`: aborted before (while the SIGKILL's exit is
 * awaited, or the processes of a half-created container are killed) the
 * removal fails with the signal's CriError reason, else DeadlineExceeded, and
 * nothing is removed yet; from `runtime delete` on, the remaining steps are
 * quick and run to the end, so an aborted removal never leaves a
 * half-removed container — and every step is idempotent for a retry anyway.
 */
export async function removeContainer(
  ctx: OciContext,
  container: ContainerRecord,
  signal?: AbortSignal,
): Promise<void> {
  const id = container.id;
  const what = `remove container "${id}"`;
  checkpoint(signal, what);
  const state = containerState(ctx, container);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const bundle = paths.bundle(ctx, id);
  const s = container.backendState as Partial<ContainerState>;
  if (!(s.version === 1 && s.rootfs && s.upper)) {
    // Half-created: its create was cut short (a crash, or a failed create). It
    // never ran, so there is no stop to honour and no exit file to wait for;
    // a conmon it left may still be about to run `runtime create`. Kill that
    // first, so nothing can be created after the delete below.
    await killContainerProcesses(id, signal);
    checkpoint(signal, what);
    await runtime?.delete(id);
    const cgroupsPath = await cgroupsPathOf(bundle);
    if (cgroupsPath) await removeCgroup(ctx.cgroupMode, cgroupsPath);
  } else if (runtime) {
    await stopContainer(ctx, container, 0, signal).catch((err) => {
      checkpoint(signal, what);
      ctx.logger.warn(`container "${id}": force stop before removal failed: ${(err as Error).message}`);
    });
    await runtime.delete(id);
  }
  // conmon leaves once the container is gone; make sure of it so nothing leaks.
  await killConmon(join(bundle, "conmon.pid"));
  await unmountAll(state.rootfs);
  await removeTree(bundle);
  await rm(paths.containerData(ctx, id), { recursive: true, force: true });
  await unlink(join(paths.exitDir(ctx), id)).catch(() => {});
  await unlink(join(paths.socketDir(ctx), id)).catch(() => {});
  ctx.exits.forget(id);
  ctx.cpuSamples.delete(id);
}

/** The cgroup `runtime create` was given (config.json is written before conmon starts). */
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
