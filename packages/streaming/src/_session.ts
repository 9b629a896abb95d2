/** One remote-command session, transport-neutral: runs exec/attach on the runtime, then reports how it ended. */
import type { Writable } from "node:stream";
import type { SessionOutcome } from "./_status.js";
import type { PendingRequest } from "./requests.js";
import type { SessionIo, StreamingRuntime, TerminalSize } from "./runtime.js";

export interface RemoteCommandStreams extends Omit<SessionIo, "signal"> {
  /** Writes the error-stream payload (format chosen by the negotiated protocol). */
  writeStatus(outcome: SessionOutcome): Promise<void>;
}

/**
 * Ends `stream` and waits until its data is flushed (or it closes, fails, or `signal` aborts).
 * spdy-transport streams come from readable-stream 3, which lacks `writableFinished`: read the state.
 */
export function endWritable(stream: Writable | null, signal?: AbortSignal): Promise<void> {
  if (stream === null || stream.destroyed) return Promise.resolve();
  const state = (stream as Writable & { _writableState?: { finished?: boolean; destroyed?: boolean } })
    ._writableState;
  if (state?.finished || state?.destroyed || stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal?.removeEventListener("abort", done);
      resolve();
    };
    stream.once("finish", done);
    stream.once("close", done);
    stream.once("error", done);
    signal?.addEventListener("abort", done, { once: true });
    stream.end();
  });
}

/** Runs the session; never throws. Output streams are ended before the status is written, as kubelet does. */
export async function runRemoteCommand(
  runtime: StreamingRuntime,
  request: Extract<PendingRequest, { kind: "exec" | "attach" }>,
  streams: RemoteCommandStreams,
  signal: AbortSignal,
  initialSizeWaitMs: number,
): Promise<void> {
  const { initialSize, rest } = request.streams.tty
    ? await firstSize(streams.resize, initialSizeWaitMs, signal)
    : { initialSize: undefined, rest: streams.resize };
  const io: SessionIo = {
    stdin: streams.stdin,
    stdout: streams.stdout,
    stderr: streams.stderr,
    resize: rest,
    signal,
  };
  let outcome: SessionOutcome;
  try {
    if (request.kind === "exec") {
      const { exitCode } = await runtime.exec(
        { containerId: request.containerId, cmd: request.cmd, tty: request.streams.tty, initialSize },
        io,
      );
      outcome = { exitCode };
    } else {
      await runtime.attach({ containerId: request.containerId, tty: request.streams.tty, initialSize }, io);
      outcome = { exitCode: 0 };
    }
  } catch (error) {
    outcome = { error: error instanceof Error ? error : new Error(String(error)) };
  }
  if (signal.aborted) return;
  await Promise.all([endWritable(streams.stdout, signal), endWritable(streams.stderr, signal)]);
  if (signal.aborted) return;
  await streams.writeStatus(outcome).catch(() => {});
}

/**
 * Waits (briefly) for the client's first terminal size, so the terminal can be created at the right
 * size: client-go sends it right after opening the streams, but a command like `stty size` started
 * before it arrives would see 80x24. Returns the rest of the sizes as their own iterable.
 */
async function firstSize(
  sizes: AsyncIterable<TerminalSize> | null,
  waitMs: number,
  signal: AbortSignal,
): Promise<{ initialSize: TerminalSize | undefined; rest: AsyncIterable<TerminalSize> | null }> {
  if (sizes === null) return { initialSize: undefined, rest: null };
  const iterator = sizes[Symbol.asyncIterator]();
  const pending = iterator.next();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), waitMs);
    signal.addEventListener("abort", () => resolve("timeout"), { once: true });
  });
  const first = await Promise.race([pending, timeout]);
  clearTimeout(timer);
  const rest: AsyncIterable<TerminalSize> = {
    [Symbol.asyncIterator]: () => ({
      next: () => iterator.next(),
      return: async () => (iterator.return ? iterator.return() : { done: true, value: undefined }),
    }),
  };
  if (first === "timeout") {
    // the size has not come yet: it is the first the runtime sees on `resize`
    let taken = false;
    return {
      initialSize: undefined,
      rest: {
        [Symbol.asyncIterator]: () => ({
          next: () => {
            if (taken) return iterator.next();
            taken = true;
            return pending;
          },
        }),
      },
    };
  }
  if (first.done) return { initialSize: undefined, rest: null };
  return { initialSize: first.value, rest };
}
