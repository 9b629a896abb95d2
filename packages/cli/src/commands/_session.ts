/** Runs an exec or attach streaming session against this process's stdio, and maps how it ended to an exit code. */
import { Writable } from "node:stream";
import { type RemoteCommandOutcome, runRemoteCommand } from "../streaming-client.js";
import { openLocalTerminal } from "./_terminal.js";

export interface StdioSession {
  /** Send this process's stdin (its end closes the remote stdin). */
  stdin: boolean;
  /** The remote side has a terminal: raw local terminal, window size followed. */
  tty: boolean;
}

/**
 * Connects `url` to process.stdin/stdout/stderr; with `tty` the local terminal is raw for the
 * session and restored on every way out.
 *
 * @example
 * const outcome = await runStdioSession(url, { stdin: true, tty: process.stdin.isTTY });
 */
export async function runStdioSession(url: string, session: StdioSession): Promise<RemoteCommandOutcome> {
  const terminal = session.tty ? openLocalTerminal(session.stdin && process.stdin.isTTY === true) : null;
  // the end of stderr is kept to recognise runc's own failure (see runcStartFailure)
  let tail = "";
  const stderr = new Writable({
    write(chunk: Buffer, _encoding, done) {
      tail = (tail + chunk.toString("utf8")).slice(-4096);
      process.stderr.write(chunk, () => done());
    },
  });
  try {
    const outcome = await runRemoteCommand(url, {
      stdin: session.stdin ? process.stdin : null,
      stdout: process.stdout,
      stderr: session.tty ? null : stderr,
      resize: terminal?.sizes ?? null,
    });
    return "exitCode" in outcome && outcome.exitCode === 255 ? (runcStartFailure(tail) ?? outcome) : outcome;
  } finally {
    terminal?.restore();
    // a stdin still open (a terminal, or a pipe the remote command did not read to its end) would keep us running
    if (session.stdin) process.stdin.destroy();
  }
}

/**
 * runc exits 255 when the process cannot be started and says why on stderr
 * (`exec failed: unable to start container process: exec: "x": … no such file or directory`);
 * that is not the command's exit code, so it becomes the error docker reports as 126/127.
 */
function runcStartFailure(stderr: string): RemoteCommandOutcome | undefined {
  const line = /exec failed: unable to start container process: [^\n]*/.exec(stderr)?.[0];
  return line ? { error: line.replace(/"\s*$/, "") } : undefined;
}

/**
 * The exit code for an outcome, as docker exec reports it: the command's own code; 126 when it
 * could not be run, 127 when it was not found; 125 for any other failure of servin's.
 *
 * @example
 * exitCodeOf({ error: 'exec: "nope": executable file not found in $PATH' }); // 127
 */
export function exitCodeOf(outcome: RemoteCommandOutcome): number {
  if ("exitCode" in outcome) return outcome.exitCode;
  if (/executable file not found|command not found|no such file or directory|\bENOENT\b/i.test(outcome.error))
    return 127;
  if (/permission denied|not executable|exec format error|\bEACCES\b/i.test(outcome.error)) return 126;
  return 125;
}
