/**
 * StopContainer: the stop signal, a grace period, then SIGKILL, each sent to the init pid directly
 * (verified against runc's recorded start time), `runc kill` where it cannot be; resolves once the exit file exists.
 */
import { CriError, nowNanos } from "@servin/cri-types";
import type { ContainerExit, ContainerRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { containerState, toContainerExit } from "../_container-state.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { waitForExit } from "../_monitor-processes.js";
import { lookupContainer, type OciRuntime } from "../oci-runtime.js";

/** After SIGKILL a process is gone at once unless it is stuck in the kernel (D state); wait that long at most. */
const KILL_WAIT_MS = 30_000;

/**
 * Stops container `container`: the stop signal, up to `timeoutSeconds` for
 * it to exit, then SIGKILL and a wait for conmon's exit file.
 *
 * When `signal` aborts, the waiting stops at once and the stop fails with
 * the signal's CriError reason (else DeadlineExceeded). What was sent stays
 * sent: the container may still be exiting; conmon writes its exit file and
 * the exit watcher reports it whenever that happens, and a later stop
 * finishes the job (no signal is ever sent after the abort).
 */
export async function stopContainer(
  ctx: OciContext,
  container: ContainerRecord,
  timeoutSeconds: number,
  signal?: AbortSignal,
): Promise<ContainerExit | undefined> {
  const id = container.id;
  const what = `stop container "${id}"`;
  checkpoint(signal, what);
  const state = containerState(ctx, container);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const already = await ctx.exits.read(id);
  if (already) return toContainerExit(ctx, already);
  // runc's state directory, not `runc state` (a Go process start per call).
  const known = runtime ? await lookupContainer(runtime, id) : undefined;
  if (!runtime || !known) return undefined; // never spawned, or removed: nothing to stop
  checkpoint(signal, what);

  const bundle = paths.bundle(ctx, id);
  // A created (never started) container has no stop signal handler to honour.
  if (timeoutSeconds > 0 && known !== "created") {
    await sendSignal(runtime, id, state.stopSignal);
    const exit = await waitForExit(ctx.exits, bundle, id, timeoutSeconds * 1000, signal);
    if (exit) return toContainerExit(ctx, exit);
    checkpoint(signal, what);
  }
  await sendSignal(runtime, id, "KILL");
  // Without a conmon (killed, or lost in a crash mid-create) no exit file comes: do not wait for one.
  const exit = await waitForExit(ctx.exits, bundle, id, KILL_WAIT_MS, signal);
  if (exit) return toContainerExit(ctx, exit);
  checkpoint(signal, what);
  return exitOrUnknown(ctx, id, runtime, signal);
}

/** Signals the init directly where the runtime allows (no runtime process start); else through `runtime kill`. */
async function sendSignal(runtime: OciRuntime, id: string, signal: string): Promise<void> {
  if ((await runtime.signal?.(id, signal)) !== undefined) return;
  await runtime.kill(id, signal);
}

/** The exit file, or — when conmon died before writing one — an honest "unknown" exit if runc says stopped. */
export async function exitOrUnknown(
  ctx: OciContext,
  id: string,
  runtime: OciRuntime,
  signal?: AbortSignal,
): Promise<ContainerExit> {
  const exit = await waitForExit(ctx.exits, paths.bundle(ctx, id), id, 1_000, signal);
  if (exit) return toContainerExit(ctx, exit);
  checkpoint(signal, `stop container "${id}"`);
  const state = await runtime.state(id);
  if (state && state.status !== "stopped") {
    throw CriError.internal(`container "${id}" did not stop after SIGKILL (status ${state.status})`);
  }
  return {
    exitCode: 255,
    finishedAt: nowNanos(),
    reason: "Error",
    message: "exit code unknown: the container's monitor (conmon) exited without recording it",
  };
}
