/** One remote-command session, transport-neutral: runs exec/attach on the runtime, then reports how it ended. */
import type { Writable } from "node:stream";
import type { SessionOutcome } from "./_status.js";
import type { PendingRequest } from "./requests.js";
import type { SessionIo, StreamingRuntime } from "./runtime.js";

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
): Promise<void> {
  const io: SessionIo = {
    stdin: streams.stdin,
    stdout: streams.stdout,
    stderr: streams.stderr,
    resize: streams.resize,
    signal,
  };
  let outcome: SessionOutcome;
  try {
    if (request.kind === "exec") {
      const { exitCode } = await runtime.exec(
        { containerId: request.containerId, cmd: request.cmd, tty: request.streams.tty },
        io,
      );
      outcome = { exitCode };
    } else {
      await runtime.attach({ containerId: request.containerId, tty: request.streams.tty }, io);
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
