/**
 * Input for a node-pty terminal that never writes to a descriptor the terminal has closed.
 *
 * node-pty 1.1 writes with `fs.write(fd)`, which runs on libuv's thread pool, and keeps its own queue.
 * The terminal's read stream closes that fd on the main thread when the process under it ends. A write
 * still queued or waiting for a pool thread then runs against whatever the process opened next under
 * the same number (Linux hands out the lowest free fd): a client's socket, a log file, a blob being
 * written. Keystrokes meant for one exec session end up in another connection or on disk.
 *
 * This writes with `writeSync` on the main thread, where the fd is closed too, and only while the read
 * stream that owns the fd is not destroyed: `destroy()` marks the stream before it closes the fd, so no
 * write can fall between the two. The master fd is non-blocking: a full terminal answers EAGAIN, and the
 * rest waits for a timer instead of blocking the daemon.
 */
import { writeSync } from "node:fs";

/** What this needs of a node-pty `UnixTerminal` (1.1): the master fd and the read stream that owns it. */
interface PtyInternals {
  readonly fd: number;
  readonly _socket: { readonly destroyed: boolean };
}

export interface PtyInput {
  /**
   * Writes `data` to the terminal now, or queues what the terminal cannot take yet. Returns false
   * while more than `highWaterMark` bytes wait: pause the source until `onDrain`. Dropped once closed.
   */
  write(data: Buffer | string): boolean;
  /** True while the terminal's fd is open. Guard `resize()` with it too: it is an ioctl on the same number. */
  readonly open: boolean;
  /** Drops what is queued and writes nothing more. */
  close(): void;
}

export interface PtyInputOptions {
  /** Called once the queue falls back under `highWaterMark` after a write returned false. */
  onDrain?: () => void;
  /** Queued bytes above which `write` returns false (default 64 KiB). */
  highWaterMark?: number;
}

/** How long a full terminal waits before the next try. */
const RETRY_MS = 10;

function internals(term: object): PtyInternals {
  const t = term as Partial<PtyInternals>;
  if (typeof t.fd !== "number" || typeof t._socket?.destroyed !== "boolean") {
    throw new TypeError(
      "ptyInput: expected a node-pty 1.1 UnixTerminal (a numeric fd and its read stream, _socket)",
    );
  }
  return t as PtyInternals;
}

/** Input for `term` (from node-pty's `spawn`) that stops at the terminal's close; use it instead of `term.write`. */
export function ptyInput(term: object, options: PtyInputOptions = {}): PtyInput {
  const pty = internals(term);
  const highWaterMark = options.highWaterMark ?? 64 * 1024;
  const queue: Buffer[] = [];
  let offset = 0;
  let queued = 0;
  let closed = false;
  let full = false;
  let timer: NodeJS.Timeout | undefined;

  const isOpen = () => !closed && !pty._socket.destroyed;
  const drop = () => {
    closed = true;
    queue.length = 0;
    queued = 0;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const flush = () => {
    timer = undefined;
    while (queue.length > 0) {
      if (!isOpen()) return drop();
      const head = queue[0]!;
      let written: number;
      try {
        written = writeSync(pty.fd, head, offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
          timer = setTimeout(flush, RETRY_MS);
          return;
        }
        // EIO: nothing holds the terminal's other end any more
        return drop();
      }
      offset += written;
      queued -= written;
      if (offset === head.length) {
        queue.shift();
        offset = 0;
      }
    }
    if (full) {
      full = false;
      options.onDrain?.();
    }
  };

  return {
    write(data) {
      if (!isOpen()) {
        drop();
        return true;
      }
      const buffer = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      if (buffer.length === 0) return !full;
      queue.push(buffer);
      queued += buffer.length;
      if (timer === undefined) flush();
      if (queued > highWaterMark) full = true;
      return !full;
    },
    get open() {
      return isOpen();
    },
    close: drop,
  };
}
