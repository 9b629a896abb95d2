/** Per-container state kept in ContainerRecord.backendState, and how an exit file becomes a CRI ContainerExit. */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerExit, ContainerRecord } from "@servin/runtime-core";
import { cgroupOomKilled } from "./_cgroups.js";
import { type OciContext, paths } from "./_context.js";
import type { ExitRecord } from "./_exits.js";

export interface ContainerState {
  version: 1;
  runtime: string;
  rootfsMode: "overlay" | "copy";
  rootfs: string;
  upper: string;
  work: string;
  copyDir: string;
  cgroupsPath: string;
  /** The signal StopContainer sends first (config, else image, else SIGTERM). */
  stopSignal: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  pid?: number;
  /** The seccomp profile applied: "runtime/default", "unconfined", "localhost/<path>" (shown in verbose status). */
  seccomp?: string;
  /** Decimal ns (JSON has no bigint). */
  startedAt?: string;
}

/** The container's state; for a half-created container, the derivable paths only. */
export function containerState(ctx: OciContext, container: ContainerRecord): ContainerState {
  const s = container.backendState as Partial<ContainerState>;
  if (s.version === 1 && s.rootfs && s.upper) return s as ContainerState;
  const data = paths.containerData(ctx, container.id);
  return {
    version: 1,
    runtime: typeof s.runtime === "string" ? s.runtime : ctx.defaultRuntime,
    rootfsMode: "overlay",
    rootfs: join(paths.bundle(ctx, container.id), "rootfs"),
    upper: join(data, "upper"),
    work: join(data, "work"),
    copyDir: join(data, "rootfs"),
    cgroupsPath: "",
    stopSignal: "SIGTERM",
    uid: 0,
    gid: 0,
    additionalGids: [],
  };
}

/** The cgroup path from the bundle's config.json (for exits noticed without a record at hand). */
async function cgroupsPathOf(ctx: OciContext, id: string): Promise<string | undefined> {
  try {
    const spec = JSON.parse(await readFile(join(paths.bundle(ctx, id), "config.json"), "utf8"));
    return spec?.linux?.cgroupsPath;
  } catch {
    return undefined;
  }
}

/**
 * CRI reason for an exit: OOMKilled when conmon left its `oom` marker in the
 * bundle (its persist dir) or the cgroup counted an OOM kill; else Completed
 * for 0 and Error otherwise (containerd's rule).
 */
export async function toContainerExit(ctx: OciContext, exit: ExitRecord): Promise<ContainerExit> {
  const bundle = paths.bundle(ctx, exit.id);
  let oom = existsSync(join(bundle, "oom"));
  if (!oom) {
    const cg = await cgroupsPathOf(ctx, exit.id);
    if (cg) oom = await cgroupOomKilled(ctx.cgroupMode, cg).catch(() => false);
  }
  if (oom) return { exitCode: exit.exitCode, finishedAt: exit.finishedAt, reason: "OOMKilled" };
  return {
    exitCode: exit.exitCode,
    finishedAt: exit.finishedAt,
    reason: exit.exitCode === 0 ? "Completed" : "Error",
  };
}
