/** Runs a helper binary (runc, mount, …) and collects its output; the one place that spawns short-lived commands. */
import { spawn } from "node:child_process";

export interface RunResult {
  code: number;
  /** Set when the process died of a signal. */
  signal?: NodeJS.Signals;
  stdout: Buffer;
  stderr: Buffer;
}

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** Output beyond this many bytes per stream is dropped (the process keeps running). */
  maxOutput?: number;
  signal?: AbortSignal;
  /** Working directory (relative paths in the arguments resolve against it). */
  cwd?: string;
  /**
   * After the process exits, wait at most this long for its output streams to
   * close (a grandchild may still hold them, e.g. after an exec timeout).
   */
  closeGraceMs?: number;
}

/** Spawns `cmd args`, never throws for a non-zero exit (callers decide what it means). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      signal: opts.signal,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const max = opts.maxOutput ?? 64 << 20;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout?.on("data", (d: Buffer) => {
      if (outLen < max) out.push(d.subarray(0, max - outLen));
      outLen += d.length;
    });
    child.stderr?.on("data", (d: Buffer) => {
      if (errLen < max) err.push(d.subarray(0, max - errLen));
      errLen += d.length;
    });
    child.on("error", reject);
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      const result: RunResult = { code: code ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
      if (signal) result.signal = signal;
      resolve(result);
    };
    child.on("close", finish);
    if (opts.closeGraceMs !== undefined) {
      const grace = opts.closeGraceMs;
      child.on("exit", (code, signal) => {
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish(code, signal);
        }, grace).unref();
      });
    }
    if (opts.input !== undefined && child.stdin) child.stdin.end(opts.input);
  });
}

/** Like run() but throws with the command's stderr when it exits non-zero. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const msg = r.stderr.toString().trim() || r.stdout.toString().trim() || `exit code ${r.code}`;
    throw new CommandError(`${cmd} ${args.slice(0, 3).join(" ")}: ${msg}`, r);
  }
  return r;
}

export class CommandError extends Error {
  readonly result: RunResult;
  constructor(message: string, result: RunResult) {
    super(message);
    this.name = "CommandError";
    this.result = result;
  }
}
