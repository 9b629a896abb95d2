/** StopPodSandbox: the infra process is killed, the pod's /dev/shm unmounted and its network released, side by side. */
import type { SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { type OciContext, runtimeIfKnown } from "../_context.js";
import { unmountAll } from "../_mounts.js";
import { killInfra } from "./_infra.js";
import { releasePodNetwork } from "./_network.js";
import { infraCgroup, isLiveInfra, type SandboxState, sandboxState } from "./_state.js";

/** How long an infra process gets to exit after a signal before the next step. */
const INFRA_STOP_MS = 5_000;

/**
 * Stops the pod's infra process, unmounts its /dev/shm and runs CNI DEL; the
 * three do not depend on each other (containerd 1.6 tears the network down
 * before it stops the sandbox container, CRI-O after), so they overlap. Every
 * one is done before the answer: the CRI says the network is torn down. When
 * `signal` aborts, the waiting stops at once and the stop fails with the
 * signal's CriError reason (else DeadlineExceeded): a later stop finishes the job.
 */
export async function stopSandbox(
  ctx: OciContext,
  sandbox: SandboxRecord,
  signal?: AbortSignal,
): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  const id = sandbox.id;
  const what = `stop pod sandbox "${id}"`;
  checkpoint(signal, what);
  const results = await Promise.allSettled([
    stopInfra(ctx, state, id, what, signal),
    // containerd unmounts the pod's shm on stop: nothing can use it any more.
    state.modes.ipc === "pod" ? unmountAll(state.shmPath) : undefined,
    // CNI DEL releases the IP once, however often Stop is retried; the netns stays until Remove.
    releasePodNetwork(ctx, id, signal),
  ]);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  checkpoint(signal, what);
}

/**
 * Stops the infra: nothing to do once conmon has written its exit file (a
 * repeated Stop, the core's Stop before Remove); a live pause process of this
 * pod (its comm and cgroup read from /proc) is known to be running without
 * asking `runc state`, a Go process, first. catatonit exits on SIGTERM;
 * SIGKILL if it does not within the grace period.
 */
async function stopInfra(
  ctx: OciContext,
  state: SandboxState,
  id: string,
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  // Started directly: SIGKILL to PID 1 of the pod's namespaces, then wait until nothing of it runs.
  if (state.infra === "process") {
    await killInfra(ctx.cgroupMode, infraCgroup(state, id), id, state.pid, signal);
    checkpoint(signal, what);
    return;
  }
  if (await ctx.sandboxExits.read(id)) return;
  const runtime = runtimeIfKnown(ctx, state.runtime);
  if (!runtime) return;
  const status = (await isLiveInfra(state.pid, id)) ? "running" : (await runtime.state(id))?.status;
  if (status === undefined || status === "stopped") return;
  checkpoint(signal, what);
  await runtime.kill(id, status === "created" ? "KILL" : "TERM");
  const exited = await ctx.sandboxExits.wait(id, INFRA_STOP_MS, signal);
  checkpoint(signal, what);
  if (!exited && (await runtime.state(id))?.status !== "stopped") {
    await runtime.kill(id, "KILL");
    await ctx.sandboxExits.wait(id, INFRA_STOP_MS, signal);
    checkpoint(signal, what);
  }
}
