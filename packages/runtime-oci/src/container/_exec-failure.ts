/**
 * runc's failure to start an exec'd process, read as docker reports it: runc exits 255 and logs
 * `time="…" level=error msg="exec failed: unable to start container process: exec: \"nope\": executable
 * file not found in $PATH"` on stderr, which is neither the command's exit code nor its output. docker
 * answers 127 for a command not found, 126 for one that cannot be executed, with runc's reason.
 */
import { Transform, type TransformCallback } from "node:stream";

export interface ExecStartFailure {
  /** 127: not found; 126: found but not executable. */
  exitCode: 126 | 127;
  /** e.g. `exec failed: unable to start container process: exec: "nope": executable file not found in $PATH` */
  message: string;
}

// runc's logrus text line; msg is a Go-quoted string (\" inside)
const RUNC_LINE =
  /^time="[^"]*" level=error msg="(exec failed: unable to start container process: (?:[^"\\]|\\.)*)"\s*$/;

/**
 * Recognises runc's own "cannot start the process" line; undefined for anything else.
 *
 * @example
 * execStartFailure('time="x" level=error msg="exec failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"');
 * // { exitCode: 127, message: 'exec failed: unable to start container process: exec: "nope": executable file not found in $PATH' }
 */
export function execStartFailure(line: string): ExecStartFailure | undefined {
  const m = RUNC_LINE.exec(line.trim().split("\n").at(-1) ?? "");
  if (!m) return undefined;
  const message = m[1]!.replace(/\\(.)/g, "$1");
  if (/executable file not found|no such file or directory/.test(message)) return { exitCode: 127, message };
  if (/permission denied|exec format error|is a directory/.test(message)) return { exitCode: 126, message };
  return undefined;
}

/**
 * The exec'd process's stderr with runc's start failure taken out of it: a first line that starts like
 * a runc log line is held until its newline; when it is runc's start failure, the client sees
 * `failure.message` instead of runc's log line, and `failure` tells the exit code to answer.
 */
export class ExecStderrFilter extends Transform {
  failure: ExecStartFailure | undefined;
  private head: Buffer | undefined = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (!this.head) {
      done(null, chunk);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    const newline = this.head.indexOf(10);
    const prefix = this.head.subarray(0, 6).toString("latin1");
    if (!'time="'.startsWith(prefix.slice(0, 6)) || (newline < 0 && this.head.length > 64 * 1024)) {
      this.release(done);
      return;
    }
    if (newline < 0) {
      done();
      return;
    }
    const failure = execStartFailure(this.head.subarray(0, newline).toString("utf8"));
    if (!failure) {
      this.release(done);
      return;
    }
    this.failure = failure;
    const rest = this.head.subarray(newline + 1);
    this.head = undefined;
    done(null, Buffer.concat([Buffer.from(`${failure.message}\n`), rest]));
  }

  override _flush(done: TransformCallback): void {
    this.release(done);
  }

  private release(done: TransformCallback): void {
    const held = this.head;
    this.head = undefined;
    done(null, held && held.length > 0 ? held : undefined);
  }
}
