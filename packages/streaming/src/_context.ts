/** The life of one upgraded connection: its abort signal, idle timeout and the work that must settle before it counts as gone. */
import type { Duplex } from "node:stream";

export interface SessionContextOptions {
  streamIdleTimeoutMs: number;
  streamCreationTimeoutMs: number;
  closeGraceMs: number;
  /** With a tty, how long to wait for the client's first terminal size before starting. */
  initialSizeWaitMs: number;
  /** Most forwarded connections one port-forward session may carry at once. */
  maxForwards: number;
  onDone: () => void;
}

/**
 * Aborts when the client goes away, the connection idles, or the server closes; `onDone` runs once
 * the socket is closed and every piece of work passed to `run` has settled (so the runtime has
 * released its processes and fds).
 */
export class SessionContext {
  readonly #controller = new AbortController();
  readonly #options: SessionContextOptions;
  #socket: Duplex | undefined;
  #socketOpen = false;
  #pending = 0;
  #done = false;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(options: SessionContextOptions) {
    this.#options = options;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  get streamCreationTimeoutMs(): number {
    return this.#options.streamCreationTimeoutMs;
  }
  get closeGraceMs(): number {
    return this.#options.closeGraceMs;
  }
  get initialSizeWaitMs(): number {
    return this.#options.initialSizeWaitMs;
  }
  get maxForwards(): number {
    return this.#options.maxForwards;
  }

  /** Follows the connection's socket: its close aborts the session; no traffic for the idle timeout closes it. */
  track(socket: Duplex, onClose?: () => void): void {
    this.#socket = socket;
    this.#socketOpen = !socket.destroyed;
    socket.on("error", () => {});
    socket.once("close", () => {
      this.#socketOpen = false;
      clearInterval(this.#idleTimer);
      onClose?.();
      this.abort();
      this.#check();
    });
    if (!this.#socketOpen) {
      this.abort();
      return;
    }
    const idle = this.#options.streamIdleTimeoutMs;
    if (idle > 0 && Number.isFinite(idle)) {
      const net = socket as Duplex & { bytesRead?: number; bytesWritten?: number };
      let last = -1;
      let quietSince = Date.now();
      this.#idleTimer = setInterval(
        () => {
          const seen = (net.bytesRead ?? 0) + (net.bytesWritten ?? 0);
          if (seen !== last) {
            last = seen;
            quietSince = Date.now();
          } else if (Date.now() - quietSince >= idle) {
            this.abort();
          }
        },
        Math.max(10, Math.min(idle / 4, 60_000)),
      );
      this.#idleTimer.unref();
    }
  }

  /** Counts `work` as part of the session until it settles. */
  run(work: Promise<unknown>): void {
    this.#pending++;
    void work
      .catch(() => {})
      .finally(() => {
        this.#pending--;
        this.#check();
      });
  }

  /** Ends the session: aborts the runtime side and destroys the socket. */
  abort(): void {
    if (!this.#controller.signal.aborted) this.#controller.abort();
    if (this.#socket && !this.#socket.destroyed) this.#socket.destroy();
  }

  /** For sessions that never got a socket of their own (rejected before or during the upgrade). */
  finish(): void {
    this.#socketOpen = false;
    this.#check();
  }

  #check(): void {
    if (this.#done || this.#socketOpen || this.#pending > 0) return;
    this.#done = true;
    clearInterval(this.#idleTimer);
    this.#options.onDone();
  }
}
