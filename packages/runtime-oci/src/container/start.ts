/** StartContainer: `runtime start` of the container conmon created. */
import { CriError, nowNanos, type UnixNanos } from "@servin/cri-types";
import type { BackendState, ContainerRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { containerState } from "../_container-state.js";
import { type OciContext, runtimeFor } from "../_context.js";

/**
 * Starts a created container. `signal` is honoured up to `runtime start`:
 * aborted before it, the container stays created and untouched; once
 * `runtime start` runs it is let finish (it returns as soon as init was told
 * to exec, and a start killed half-way would leave a container neither
 * created nor running).
 */
export async function startContainer(
  ctx: OciContext,
  container: ContainerRecord,
  signal?: AbortSignal,
): Promise<{ startedAt: UnixNanos; backendState?: BackendState }> {
  const state = containerState(ctx, container);
  const runtime = runtimeFor(ctx, state.runtime);
  checkpoint(signal, `start container "${container.id}"`);
  // No `runc state` first (each runc call costs a Go process start): start, and
  // only on failure ask why, for a precise error.
  try {
    await runtime.start(container.id);
  } catch (err) {
    const st = await runtime.state(container.id).catch(() => undefined);
    if (!st) {
      throw CriError.failedPrecondition(
        `container "${container.id}" has no runtime state: it was never created or is gone`,
      );
    }
    if (st.status !== "created") {
      throw CriError.failedPrecondition(
        `container "${container.id}" is ${st.status}, not created: it cannot be started`,
      );
    }
    throw new CriError("Internal", `container "${container.id}": start failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const startedAt = nowNanos();
  return { startedAt, backendState: { ...state, startedAt: startedAt.toString() } };
}
