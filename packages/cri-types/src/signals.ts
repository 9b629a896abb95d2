/** Combining a long-lived signal (a service's lifetime) with a call's own, without leaking. */

/**
 * Runs `fn` with a signal that aborts when `lifetime` or `caller` aborts, whichever comes first, with
 * that signal's reason. Not AbortSignal.any: on Node 20 every composite stays referenced from a
 * never-aborted long-lived signal (~50 bytes per call, measured over 800k calls), so the listeners are
 * removed here when `fn` settles.
 *
 * @example
 * await withCombinedSignal(service.lifetime, opts?.signal, (signal) => backend.stopContainer(id, signal));
 */
export async function withCombinedSignal<T>(
  lifetime: AbortSignal,
  caller: AbortSignal | undefined,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (caller === undefined) return fn(lifetime);
  const combined = new AbortController();
  const onLifetime = () => combined.abort(lifetime.reason);
  const onCaller = () => combined.abort(caller.reason);
  if (lifetime.aborted) onLifetime();
  else if (caller.aborted) onCaller();
  lifetime.addEventListener("abort", onLifetime, { once: true });
  caller.addEventListener("abort", onCaller, { once: true });
  try {
    return await fn(combined.signal);
  } finally {
    lifetime.removeEventListener("abort", onLifetime);
    caller.removeEventListener("abort", onCaller);
  }
}
