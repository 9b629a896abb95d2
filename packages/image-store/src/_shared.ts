/** One in-flight operation several callers wait on, each with its own cancel signal (deduplicated pulls and downloads). */

/**
 * Runs `run` once with a signal of its own. Callers `join` with their signal:
 * a caller whose signal aborts is rejected at once, and the operation itself is
 * cancelled only when the last waiter has left, so one client hanging up
 * never cancels the work others still wait for.
 */
export class SharedOperation<T> {
  readonly promise: Promise<T>;
  private readonly controller = new AbortController();
  private waiters = 0;
  private settled = false;

  /** `onAbandoned` runs when the last waiter leaves (so the owner can stop handing this operation out). */
  constructor(
    run: (signal: AbortSignal) => Promise<T>,
    private readonly onAbandoned?: () => void,
  ) {
    this.promise = Promise.resolve().then(() => run(this.controller.signal));
    this.promise.then(
      () => {
        this.settled = true;
      },
      () => {
        this.settled = true;
      },
    );
  }

  /** True once every waiter left and the operation was cancelled: new callers must start another. */
  get abandoned(): boolean {
    return this.controller.signal.aborted;
  }

  /** Waits for the result; `abortError` builds the rejection of a caller whose own signal aborts. */
  join(signal: AbortSignal | undefined, abortError: (signal: AbortSignal) => unknown): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    this.waiters++;
    // A waiter without a signal never leaves, so the operation always completes for it.
    if (!signal) return this.promise;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.leave();
        reject(abortError(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.promise.then(
        (v) => {
          signal.removeEventListener("abort", onAbort);
          resolve(v);
        },
        (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      );
    });
  }

  private leave(): void {
    this.waiters--;
    if (this.waiters === 0 && !this.settled) {
      this.controller.abort();
      this.onAbandoned?.();
    }
  }
}
