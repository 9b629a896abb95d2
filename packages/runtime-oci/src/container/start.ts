/** StartContainer: the rootfs mount and conmon (one process), `runtime create` under it, then `runtime start` — the process is made here, as containerd does. */
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { CriError, nowNanos, type UnixNanos } from "@servin/cri-types";
import type { BackendState, ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { prepareMonitorCgroup, removeCgroup } from "../_cgroups.js";
import { type ContainerState, containerState } from "../_container-state.js";
import { Cleanup, type OciContext, paths, runtimeFor } from "../_context.js";
import { killMonitors, monitorAlive } from "../_monitor-processes.js";
import { unmountAll } from "../_mounts.js";
import { lookupContainer, type OciRuntime, readPid } from "../oci-runtime.js";
import { monitorCgroup, sandboxState } from "../sandbox/_state.js";
import { finishRootfs, planRootfs, type RootfsOptions } from "./_rootfs.js";

/**
 * Starts a created container: mounts its rootfs and has conmon run
 * `runtime create` (unless an earlier start, cut short by a crash, already
 * did), then `runtime start`. `signal` is honoured up to `runtime start`:
 * aborted before it, everything this call made is undone and the container
 * stays created and untouched; once `runtime start` runs it is let finish (it
 * returns as soon as init was told to exec, and a start killed half-way would
 * leave a container neither created nor running).
 */
export async function startContainer(
  ctx: OciContext,
  container: ContainerRecord,
  sandbox: SandboxRecord | undefined,
  signal?: AbortSignal,
): Promise<{ startedAt: UnixNanos; backendState?: BackendState }> {
  const id = container.id;
  let state = containerState(ctx, container);
  const runtime = runtimeFor(ctx, state.runtime);
  checkpoint(signal, `start container "${id}"`);
  const known = await lookupContainer(runtime, id);
  if (known === "started") {
    throw CriError.failedPrecondition(`container "${id}" was started before: it cannot be started again`);
  }
  let fresh = known === undefined;
  if (known === "created" && !(await monitorAlive(paths.bundle(ctx, id), id))) {
    // Created by a start a crash cut short, but its conmon is gone (it dies when the servin it
    // reports the pid to is): started, it would run unmonitored (no exit, no log). Made again.
    await discardUnmonitored(ctx, runtime, state, id);
    fresh = true;
  }
  if (fresh) {
    if (!sandbox) throw CriError.failedPrecondition(`container "${id}": its pod sandbox is gone`);
    state = await spawn(ctx, container, sandbox, state, runtime, signal);
  } else if (!state.pid) {
    // Created by a start that a crash cut short: its init pid is in the bundle.
    const pid = await readPid(join(paths.bundle(ctx, id), "pid"));
    state = { ...state, ...(pid ? { pid } : {}) };
  }
  // No `runc state` first (each runc call costs a Go process start): start, and
  // only on failure ask why, for a precise error.
  try {
    await runtime.start(id);
  } catch (err) {
    const st = await runtime.state(id).catch(() => undefined);
    if (!st) {
      throw CriError.failedPrecondition(`container "${id}" has no runtime state: it is gone`);
    }
    if (st.status !== "created") {
      throw CriError.failedPrecondition(
        `container "${id}" is ${st.status}, not created: it cannot be started`,
      );
    }
    throw new CriError("Internal", `container "${id}": start failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const startedAt = nowNanos();
  return { startedAt, backendState: { ...state, startedAt: startedAt.toString() } };
}

/** Deletes a runtime container left "created" without its conmon, so that the start makes it again. */
async function discardUnmonitored(
  ctx: OciContext,
  runtime: OciRuntime,
  state: ContainerState,
  id: string,
): Promise<void> {
  ctx.logger.warn(`container "${id}": created by a start cut short, its conmon gone; creating it again`);
  await runtime.delete(id);
  await removeCgroup(ctx.cgroupMode, state.cgroupsPath);
  await unmountAll(state.rootfs);
  await unlink(join(paths.exitDir(ctx), id)).catch(() => {});
  await unlink(join(paths.socketDir(ctx), id)).catch(() => {});
  ctx.exits.forget(id);
}

/**
 * Mounts the rootfs and runs `runtime create` under conmon. On any failure
 * (or when `signal` aborts) every step is undone in reverse — conmon killed
 * first, so it reports no exit of the deleted init — and the container is
 * back to created-not-spawned.
 */
async function spawn(
  ctx: OciContext,
  container: ContainerRecord,
  sandbox: SandboxRecord,
  state: ContainerState,
  runtime: OciRuntime,
  signal: AbortSignal | undefined,
): Promise<ContainerState> {
  const { id, config } = container;
  const name = config.metadata.name;
  const what = `start container "${id}"`;
  const bundle = paths.bundle(ctx, id);
  const next = { ...state };
  const cleanup = new Cleanup(ctx.logger);
  let mounted: Promise<"overlay" | "copy"> | undefined;
  try {
    cleanup.add("startContainer: unmounting rootfs", () => unmountAll(state.rootfs));
    const rootfs: RootfsOptions = {
      layers: container.image.layers,
      upper: state.upper,
      work: state.work,
      target: state.rootfs,
      copyDir: state.copyDir,
      id,
      logger: ctx.logger,
    };
    // The overlay mount is made by conmon's own process before it execs conmon (one fork of the
    // daemon, not two); conmon runs `runtime create` once the rootfs is there (the copy fallback too).
    const mount = await planRootfs(rootfs);
    // A runtime create killed half-way leaves a cgroup its delete does not know of.
    cleanup.add("startContainer: removing container cgroup", () =>
      removeCgroup(ctx.cgroupMode, state.cgroupsPath),
    );
    cleanup.add("startContainer: deleting runtime container", () => runtime.delete(id));
    // conmon goes before the runtime delete: killed first, it can report no exit of the deleted init.
    cleanup.add("startContainer: killing conmon", async () => {
      await killMonitors(bundle, id);
      await unlink(join(paths.exitDir(ctx), id)).catch(() => {});
      await unlink(join(paths.socketDir(ctx), id)).catch(() => {});
      ctx.exits.forget(id);
    });
    const created = await ctx.monitor.create({
      cgroupProcs: await prepareMonitorCgroup(ctx.cgroupMode, monitorCgroup(sandboxState(ctx, sandbox))),
      id,
      name,
      bundle,
      runtime,
      logPath: container.logPath,
      exitDir: paths.exitDir(ctx),
      pidFile: join(bundle, "pid"),
      conmonPidFile: join(bundle, "conmon.pid"),
      socketDir: paths.socketDir(ctx),
      terminal: config.tty === true,
      stdin: config.stdin === true,
      leaveStdinOpen: config.stdinOnce !== true,
      ...(mount ? { mount } : {}),
      ready: (outcome) => {
        mounted = finishRootfs(rootfs, mount, outcome);
        return mounted;
      },
      ...(signal ? { signal } : {}),
    });
    if (!mounted) throw CriError.internal(`container "${id}": the monitor created it without its rootfs`);
    next.rootfsMode = await mounted;
    next.pid = created.pid;
    // The last moment a cancellation can still undo everything.
    checkpoint(signal, what);
    return next;
  } catch (err) {
    // A mount still under way (conmon failed first) must be done before its undo runs.
    await mounted?.catch(() => {});
    await cleanup.run();
    if (err instanceof Error && /executable file not found|no such file or directory/i.test(err.message)) {
      throw new CriError("FailedPrecondition", `container "${name}": ${err.message}`, { cause: err });
    }
    throw err;
  }
}
