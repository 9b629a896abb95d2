/**
 * What servin does when the reader of its stdout or stderr goes away (`servin logs ID | head -1`, a
 * supervisor that died). Node ignores SIGPIPE, so the write fails with EPIPE and the stream emits an
 * 'error' that, unhandled, crashes the process with a stack trace.
 *
 * - "exit" (the CLI): EPIPE ends the process quietly with exit 0, as `git log | head` does; any other
 *   stream error stays fatal.
 * - "ignore" (the daemon): every error on the log streams is swallowed; the server keeps serving and
 *   its log lines go nowhere.
 */
export type BrokenPipeMode = "exit" | "ignore";

let mode: BrokenPipeMode | undefined;

function onStreamError(err: NodeJS.ErrnoException): void {
  if (mode === "ignore") return;
  if (err.code === "EPIPE") process.exit(0);
  throw err;
}

/**
 * Sets how a closed stdout/stderr is handled from now on (the last call wins).
 *
 * @example
 * handleBrokenPipes("exit"); // in the CLI entry
 * handleBrokenPipes("ignore"); // when the daemon starts
 */
export function handleBrokenPipes(next: BrokenPipeMode): void {
  if (mode === undefined) {
    process.stdout.on("error", onStreamError);
    process.stderr.on("error", onStreamError);
  }
  mode = next;
}
