/** What runc, the exit files and the bundle say about a container now (used by status and by reconcile after a restart). */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ContainerRecord, ObservedContainer } from "@servin/runtime-core";
import { containerState, toContainerExit } from "../_container-state.js";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { containerInit } from "../_monitor-processes.js";
import { lookupContainer } from "../oci-runtime.js";
import { exitOrUnknown } from "./stop.js";

export async function inspectContainer(
  ctx: OciContext,
  container: ContainerRecord,
): Promise<ObservedContainer> {
  const id = container.id;
  const state = containerState(ctx, container);
  const startedAt = state.startedAt ? BigInt(state.startedAt) : undefined;
  const withStart = <T extends object>(o: T) => (startedAt === undefined ? o : { ...o, startedAt });

  const exit = await ctx.exits.read(id);
  if (exit) return withStart({ state: "exited" as const, exit: await toContainerExit(ctx, exit) });

  // Its init process still there: no need to spawn the runtime (recovery inspects every container).
  const init = state.pid ? await containerInit(state.pid, id) : undefined;
  if (init === "running") return withStart({ state: "running" as const, pid: state.pid! });
  const runtime = runtimeIfKnown(ctx, state.runtime);
  if (init === "created") {
    // Still runc's init, but its exec fifo released by a start: it is about to exec the process,
    // and runc itself reports "running" from the moment the fifo is gone.
    if (runtime && (await lookupContainer(runtime, id)) === "started")
      return withStart({ state: "running" as const, pid: state.pid! });
    return { state: "created" };
  }

  // Created, its processes not made yet (they come at start): its bundle is all there is.
  if (!state.pid && runtime && (await lookupContainer(runtime, id)) === undefined) {
    if (existsSync(join(paths.bundle(ctx, id), "config.json"))) return { state: "created" };
  }
  const st = runtime ? await runtime.state(id) : undefined;
  if (!runtime || !st) {
    const why = existsSync(paths.bundle(ctx, id))
      ? `the ${state.runtime} runtime does not know it`
      : "its bundle is gone (state directory lost, e.g. after a reboot)";
    return { state: "unknown", message: `container "${id}" not found: ${why}` };
  }
  switch (st.status) {
    case "created":
    case "creating":
      return { state: "created" };
    case "running":
    case "paused":
      return withStart({ state: "running" as const, pid: st.pid });
    default:
      return withStart({ state: "exited" as const, exit: await exitOrUnknown(ctx, id, runtime) });
  }
}
