/** StopContainer: the stop signal, a grace period, then SIGKILL; resolves once the exit file exists. */
import { CriError, nowNanos } from "@servin/cri-types";
import type { ContainerExit, ContainerRecord } from "@servin/runtime-core";
import { containerState, toContainerExit } from "../_container-state.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { waitForExit } from "../_monitor-processes.js";
import type { OciRuntime } from "../oci-runtime.js";

/** After SIGKILL a process is gone at once unless it is stuck in the kernel (D state); wait that long at most. */
const KILL_WAIT_MS = 30_000;

export async function stopContainer(
  ctx: OciContext,
  container: ContainerRecord,
  timeoutSeconds: number,
): Promise<ContainerExit | undefined> {
  const id = container.id;
  const state = containerState(ctx, container);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const already = await ctx.exits.read(id);
  if (already) return toContainerExit(ctx, already);
  const st = runtime ? await runtime.state(id) : undefined;
  if (!runtime || !st) return undefined; // never created, or removed: nothing to stop
  if (st.status === "stopped") return exitOrUnknown(ctx, id, runtime);

  // A created (never started) container has no stop signal handler to honour.
  if (timeoutSeconds > 0 && st.status !== "created") {
    await runtime.kill(id, state.stopSignal);
    const exit = await waitForExit(ctx.exits, paths.bundle(ctx, id), id, timeoutSeconds * 1000);
    if (exit) return toContainerExit(ctx, exit);
  }
  await runtime.kill(id, "KILL");
  // Without a conmon (killed, or lost in a crash mid-create) no exit file comes: do not wait for one.
  const exit = await waitForExit(ctx.exits, paths.bundle(ctx, id), id, KILL_WAIT_MS);
  if (exit) return toContainerExit(ctx, exit);
  return exitOrUnknown(ctx, id, runtime);
}

/** The exit file, or — when conmon died before writing one — an honest "unknown" exit if runc says stopped. */
export async function exitOrUnknown(
  ctx: OciContext,
  id: string,
  runtime: OciRuntime,
): Promise<ContainerExit> {
  const exit = await waitForExit(ctx.exits, paths.bundle(ctx, id), id, 1_000);
  if (exit) return toContainerExit(ctx, exit);
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
