/** StopPodSandbox: the infra process gets SIGTERM, then SIGKILL; the pod's /dev/shm is unmounted. */
import type { SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { type OciContext, runtimeIfKnown } from "../_context.js";
import { unmountAll } from "../_mounts.js";
import { releasePodNetwork } from "./_network.js";
import { sandboxState } from "./_state.js";

/** How long a pause process gets to exit on SIGTERM before SIGKILL. */
const INFRA_STOP_MS = 5_000;

/**
 * Stops the pod's infra process and unmounts its /dev/shm. When `signal`
 * aborts, the waiting stops at once and the stop fails with the signal's
 * CriError reason (else DeadlineExceeded): the infra may still be exiting
 * and the shm stays mounted until a later stop finishes the job.
 */
export async function stopSandbox(
  ctx: OciContext,
  sandbox: SandboxRecord,
  signal?: AbortSignal,
): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const id = sandbox.id;
  const what = `stop pod sandbox "${id}"`;
  checkpoint(signal, what);
  if (runtime) {
    const st = await runtime.state(id);
    if (st && st.status !== "stopped") {
      checkpoint(signal, what);
      // catatonit exits on SIGTERM; SIGKILL if it does not within the grace period.
      await runtime.kill(id, st.status === "created" ? "KILL" : "TERM");
      const exited = await ctx.sandboxExits.wait(id, INFRA_STOP_MS, signal);
      checkpoint(signal, what);
      if (!exited && (await runtime.state(id))?.status !== "stopped") {
        await runtime.kill(id, "KILL");
        await ctx.sandboxExits.wait(id, INFRA_STOP_MS, signal);
        checkpoint(signal, what);
      }
    }
  }
  // containerd unmounts the pod's shm on stop: nothing can use it any more.
  if (state.modes.ipc === "pod") await unmountAll(state.shmPath);
  // CNI DEL releases the IP once, however often Stop is retried; the netns stays until Remove.
  await releasePodNetwork(ctx, sandbox, signal);
}
