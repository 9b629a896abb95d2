/**
 * A starting container's rootfs in two halves around conmon's spawn: the overlay mount that conmon's own
 * process makes before it execs conmon (one fork of the daemon for both), and what its outcome calls for:
 * the overlay, or a copy of the layers (when the host has no overlayfs, the layers do not fit in one
 * mount's options, or the mount failed) bind-mounted on the target.
 */
import { mkdir } from "node:fs/promises";
import { runOk } from "../_exec.js";
import { copyLayers, hasOverlay, MOUNT_DATA_MAX, overlayMountPlan } from "../_mounts.js";
import type { MountOutcome, OverlayMount } from "../monitor.js";

export interface RootfsOptions {
  /** The image's layers, lowest first (as RuntimeImage gives them). */
  layers: string[];
  upper: string;
  work: string;
  target: string;
  /** Where the copy fallback puts the layers (bind-mounted on `target`). */
  copyDir: string;
  /** Names the container in the warnings. */
  id: string;
  logger: { warn(message: string): void };
}

/**
 * Makes the directories the mount needs and returns the overlay mount to make
 * — or undefined, with the reason logged, when overlayfs cannot be used (not
 * in the kernel, or too many layers for one mount's options): the copy
 * fallback then does it all (`finishRootfs`).
 */
export async function planRootfs(o: RootfsOptions): Promise<OverlayMount | undefined> {
  await mkdir(o.target, { recursive: true });
  const who = `container "${o.id}"`;
  if (!(await hasOverlay())) {
    o.logger.warn(`${who}: overlayfs is not available on this host: copying the image layers instead`);
    return undefined;
  }
  const plan = overlayMountPlan(o.layers, o.upper, o.work);
  if (!plan) {
    o.logger.warn(
      `${who}: the image's ${o.layers.length} layers do not fit in one overlay mount (${MOUNT_DATA_MAX} bytes of options, even relative to their common directory): copying them instead`,
    );
    return undefined;
  }
  await Promise.all([mkdir(o.upper, { recursive: true }), mkdir(o.work, { recursive: true })]);
  return { data: plan.data, target: o.target, ...(plan.cwd ? { cwd: plan.cwd } : {}) };
}

/**
 * "overlay" when the planned mount succeeded; else (no mount planned, or it
 * failed — logged, since a copy costs disk and time and hides a host problem)
 * the layers are copied into `copyDir` and bind-mounted on the target: "copy".
 */
export async function finishRootfs(
  o: RootfsOptions,
  mount: OverlayMount | undefined,
  outcome: MountOutcome | undefined,
): Promise<"overlay" | "copy"> {
  if (mount && outcome?.code === 0) return "overlay";
  if (mount) {
    const why = (outcome?.stderr || `exit code ${outcome?.code ?? -1}`).replace(/\s+/g, " ");
    o.logger.warn(`container "${o.id}": overlay mount failed (${why}): copying the image layers instead`);
  }
  await copyLayers(o.layers, o.copyDir);
  await runOk("mount", ["--bind", o.copyDir, o.target]);
  return "copy";
}
