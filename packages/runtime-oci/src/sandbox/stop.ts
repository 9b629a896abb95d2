/** StopPodSandbox: the infra process gets SIGTERM, then SIGKILL; the pod's /dev/shm is unmounted. */
import type { SandboxRecord } from "@servin/runtime-core";
import { type OciContext, runtimeIfKnown } from "../_context.js";
import { unmountAll } from "../_mounts.js";
import { sandboxState } from "./_state.js";

/** How long a pause process gets to exit on SIGTERM before SIGKILL. */
const INFRA_STOP_MS = 5_000;

export async function stopSandbox(ctx: OciContext, sandbox: SandboxRecord): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const id = sandbox.id;
  if (runtime) {
    const st = await runtime.state(id);
    if (st && st.status !== "stopped") {
      // catatonit exits on SIGTERM; SIGKILL if it does not within the grace period.
      await runtime.kill(id, st.status === "created" ? "KILL" : "TERM");
      const exited = await ctx.sandboxExits.wait(id, INFRA_STOP_MS);
      if (!exited && (await runtime.state(id))?.status !== "stopped") {
        await runtime.kill(id, "KILL");
        await ctx.sandboxExits.wait(id, INFRA_STOP_MS);
      }
    }
  }
  // containerd unmounts the pod's shm on stop: nothing can use it any more.
  if (state.modes.ipc === "pod") await unmountAll(state.shmPath);
}
