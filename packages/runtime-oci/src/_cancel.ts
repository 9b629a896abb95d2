/**
 * Cancellation of the backend's long operations. runtime-core hands a create
 * its lifetime signal (aborted by close()) and callers may add their own; a
 * create checks it between steps, kills what it started and runs its undo
 * steps, as CRI-O's RuntimeImpl honours the context on every method.
 */
import { CriError } from "@servin/cri-types";

/**
 * The error of an operation `signal` cut short: the signal's CriError reason
 * with what was cut short prefixed (runtime-core aborts with Unavailable when
 * it closes), else DeadlineExceeded — the CRI has no code of its own for a
 * cancelled call, and kubelet treats both as "retry".
 */
export function cancelledError(signal: AbortSignal, what: string): CriError {
  const reason: unknown = signal.reason;
  if (reason instanceof CriError) {
    return new CriError(reason.code, `${what}: cancelled: ${reason.message}`, { cause: reason });
  }
  const why = reason instanceof Error && reason.message ? `: ${reason.message}` : "";
  return new CriError("DeadlineExceeded", `${what}: cancelled before it completed${why}`, {
    cause: reason,
  });
}

/** Throws the cancellation error when `signal` has aborted: the check between two steps of a create. */
export function checkpoint(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(signal, what);
}

/**
 * Waits `ms`, or less when `signal` aborts first: the pause between two
 * retries of a loop that must stop at once when its caller gives up.
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
