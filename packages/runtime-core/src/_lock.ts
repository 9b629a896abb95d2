/** Per-object mutual exclusion: one mutating operation at a time on a pod or container, never a global lock. */

/**
 * A FIFO async mutex. Each pod sandbox and container owns one, so a slow
 * StopContainer (waiting out its grace period) never delays operations on
 * other objects, and reads (List*, *Status) never take it at all.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;

  /** Runs `fn` once every earlier holder has finished. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held++;
    try {
      await previous;
      return await fn();
    } finally {
      this.#held--;
      release();
    }
  }

  /** True while an operation holds or waits for the lock. */
  get busy(): boolean {
    return this.#held > 0;
  }
}
