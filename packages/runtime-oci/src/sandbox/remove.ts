/** RemovePodSandbox: a durable tombstone, then `runtime delete` and every file, mount and cgroup of the pod in the background. */
import type { SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import type { OciContext } from "../_context.js";
import { markAndRemove } from "./_removals.js";
import { sandboxState } from "./_state.js";
import { stopSandbox } from "./stop.js";

/**
 * Answers once the pod is durably marked as being removed: the pod's
 * processes are stopped and its network released before that (the core stops
 * the pod first; a Remove without Stop does it here), and what is left —
 * `runtime delete`, the netns, /dev/shm, the bundle and pod files, the
 * cgroups — goes in the background (_removals.ts), finished at the next start
 * when a crash cuts it short. Idempotent; when `signal` aborts before the mark
 * is written, the removal fails with the signal's CriError reason (else
 * DeadlineExceeded) and a later removal finishes it.
 */
export async function removeSandbox(
  ctx: OciContext,
  sandbox: SandboxRecord,
  signal?: AbortSignal,
): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  const id = sandbox.id;
  // Cheap when the pod is stopped already (the core stops it first): conmon's exit file is there,
  // /dev/shm is unmounted and the attachment record gone, so no process runs.
  await stopSandbox(ctx, sandbox, signal);
  checkpoint(signal, `remove pod sandbox "${id}"`);
  await markAndRemove(ctx, sandbox, state);
}
