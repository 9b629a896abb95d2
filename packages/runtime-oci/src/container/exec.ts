/** Exec (streaming): `runc exec` in the running container, with pipes or under a pseudo-terminal whose size follows the client. */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import { ptyInput } from "@servin/node-kit";
import type { ContainerRecord, StreamSessionIo, StreamTerminalSize } from "@servin/runtime-core";
import type * as Pty from "node-pty";
import { pause } from "../_cancel.js";
import { containerState } from "../_container-state.js";
import { type OciContext, paths, runtimeFor } from "../_context.js";
import { readPid } from "../oci-runtime.js";
import { ExecStderrFilter } from "./_exec-failure.js";

/** After runc exited, how long its output may still take to drain (a background child may hold the pipes). */
const DRAIN_GRACE_MS = 1000;

/**
 * The process is the container's own (env, cwd, user, capabilities, seccomp,
 * AppArmor from its config.json) with only the args replaced, as ExecSync
 * does, handed to runc as `--process` so that a terminal can carry
 * `consoleSize`: runc sizes the container's terminal before the command runs
 * (runc's own first resize comes after the process started, so a quick
 * `stty size` would see 0x0). With a tty, runc in the foreground allocates the
 * container's terminal itself, copies it to its own stdio (our pty) and
 * resizes it on SIGWINCH of its stdin's terminal: resizing our pty resizes the
 * container's. The exit
 * code is runc's (the process's, 128+n for a signal). On `io.signal` the
 * exec'd process is SIGKILLed by the pid runc wrote (killing runc alone would
 * leave it running in the container), then runc.
 */
export async function execStream(
  ctx: OciContext,
  container: ContainerRecord,
  spec: { cmd: readonly string[]; tty: boolean; initialSize?: StreamTerminalSize },
  io: StreamSessionIo,
): Promise<{ exitCode: number }> {
  if (spec.cmd.length === 0) throw CriError.invalidArgument("cmd: expected a non-empty command");
  const runtime = runtimeFor(ctx, containerState(ctx, container).runtime);
  const bundle = paths.bundle(ctx, container.id);
  const session = randomBytes(6).toString("hex");
  const pidFile = join(bundle, `exec-${session}.pid`);
  const processFile = join(bundle, `exec-${session}.json`);
  await writeFile(processFile, JSON.stringify(await execProcess(bundle, spec)), { mode: 0o600 });
  const args = [
    "--root",
    runtime.root,
    "exec",
    "--process",
    processFile,
    "--pid-file",
    pidFile,
    container.id,
  ];
  let finished = false;
  const killExecd = async () => {
    // runc writes the pid file once the process exists: retry briefly.
    for (let i = 0; i < 50 && !finished; i++) {
      const pid = await readPid(pidFile);
      if (pid) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
        return;
      }
      await pause(20);
    }
  };
  try {
    return spec.tty
      ? await execTty(runtime.path, args, spec.initialSize, io, killExecd)
      : await execPipes(runtime.path, args, io, killExecd);
  } finally {
    finished = true;
    await unlink(pidFile).catch(() => {});
    await unlink(processFile).catch(() => {});
  }
}

/** The exec'd process: the container's process spec with the command, terminal and its initial size. */
async function execProcess(
  bundle: string,
  spec: { cmd: readonly string[]; tty: boolean; initialSize?: StreamTerminalSize },
): Promise<Record<string, unknown>> {
  let base: Record<string, unknown>;
  try {
    base =
      (
        JSON.parse(await readFile(join(bundle, "config.json"), "utf8")) as {
          process?: Record<string, unknown>;
        }
      ).process ?? {};
  } catch (err) {
    throw new CriError("Internal", `exec: cannot read the container's spec: ${(err as Error).message}`);
  }
  const { consoleSize: _unused, ...inherited } = base;
  return {
    ...inherited,
    args: [...spec.cmd],
    terminal: spec.tty,
    ...(spec.tty
      ? { consoleSize: { width: spec.initialSize?.width || 80, height: spec.initialSize?.height || 24 } }
      : {}),
  };
}

async function resizeLoop(
  io: StreamSessionIo,
  apply: (width: number, height: number) => void,
): Promise<void> {
  if (io.resize === null) return;
  for await (const size of io.resize) {
    if (size.width > 0 && size.height > 0) apply(size.width, size.height);
  }
}

/** node-pty (a native addon, ~1.6 MB of anonymous memory): loaded at the first tty exec (issue 13). */
let loadingPty: Promise<typeof Pty> | undefined;

async function execTty(
  runc: string,
  args: string[],
  size: StreamTerminalSize | undefined,
  io: StreamSessionIo,
  killExecd: () => Promise<void>,
): Promise<{ exitCode: number }> {
  loadingPty ??= import("node-pty");
  const pty = await loadingPty;
  return new Promise((resolve, reject) => {
    let term: Pty.IPty;
    try {
      term = pty.spawn(runc, args, {
        name: "xterm",
        cols: size?.width || 80,
        rows: size?.height || 24,
        env: process.env as Record<string, string>,
      });
    } catch (err) {
      reject(err);
      return;
    }
    let exited = false;
    const abort = () => {
      void killExecd().then(() => {
        if (!exited) term.kill("SIGKILL");
      });
    };
    if (io.signal.aborted) abort();
    else io.signal.addEventListener("abort", abort, { once: true });
    const data = term.onData((d) => io.stdout?.write(d));
    // Never term.write: node-pty's queued writes outlive the terminal's fd (see ptyInput).
    const input = ptyInput(term, { onDrain: () => io.stdin?.resume() });
    const onStdin = (chunk: Buffer) => {
      if (!input.write(chunk)) io.stdin?.pause();
    };
    // A terminal has no half-close: the end of stdin is ^D, as a user would type it.
    const onEnd = () => {
      input.write("\x04");
    };
    io.stdin?.on("data", onStdin);
    io.stdin?.on("end", onEnd);
    void resizeLoop(io, (w, h) => {
      if (input.open) term.resize(w, h);
    }).catch(() => {});
    term.onExit(({ exitCode, signal }) => {
      exited = true;
      input.close();
      io.signal.removeEventListener("abort", abort);
      io.stdin?.off("data", onStdin);
      io.stdin?.off("end", onEnd);
      // node-pty may report the exit before the last output was read: give it a moment.
      setTimeout(() => {
        data.dispose();
        resolve({ exitCode: signal ? 128 + signal : exitCode });
      }, 50);
    });
  });
}

function execPipes(
  runc: string,
  args: string[],
  io: StreamSessionIo,
  killExecd: () => Promise<void>,
): Promise<{ exitCode: number }> {
  return new Promise((resolve, reject) => {
    // Without a terminal runc hands its own stdio to the process: stdin's end is the process's EOF.
    const child = spawn(runc, args, {
      stdio: [io.stdin ? "pipe" : "ignore", io.stdout ? "pipe" : "ignore", "pipe"],
    });
    const abort = () => {
      void killExecd().then(() => child.kill("SIGKILL"));
    };
    if (io.signal.aborted) abort();
    else io.signal.addEventListener("abort", abort, { once: true });
    child.stdin?.on("error", () => {});
    if (io.stdin && child.stdin) io.stdin.pipe(child.stdin);
    if (io.stdout && child.stdout) child.stdout.pipe(io.stdout, { end: false });
    // runc's own errors ("exec failed: ... not found") come on stderr too: told apart, answered as docker's 127/126.
    const runcFailure = new ExecStderrFilter();
    if (child.stderr) child.stderr.pipe(runcFailure);
    if (io.stderr) runcFailure.pipe(io.stderr, { end: false });
    else runcFailure.resume();
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      io.signal.removeEventListener("abort", abort);
      if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const failure = code === 255 ? runcFailure.failure : undefined;
      resolve({ exitCode: failure?.exitCode ?? code ?? 128 + (signal === "SIGKILL" ? 9 : 15) });
    };
    child.once("error", (err) => {
      if (settled) return;
      settled = true;
      io.signal.removeEventListener("abort", abort);
      reject(err);
    });
    child.once("close", finish);
    child.once("exit", (code, signal) => setTimeout(() => finish(code, signal), DRAIN_GRACE_MS).unref());
  });
}
