/** A StreamingRuntime over REAL host processes and TCP, for tests: exec runs the command here (node-pty for tty), port-forward dials 127.0.0.1. */
import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { ptyInput } from "@servin/node-kit";
import * as pty from "node-pty";
import type { SessionIo, StreamingRuntime, TerminalSize } from "../src/index.js";

/** A long-running "container" for attach: one host process whose output is shared by every attached client. */
export interface HostContainer {
  process: ChildProcess;
  output: EventEmitter;
}

async function resizeLoop(io: SessionIo, apply: (width: number, height: number) => void): Promise<void> {
  if (io.resize === null) return;
  for await (const size of io.resize) {
    if (size.width > 0 && size.height > 0) apply(size.width, size.height);
  }
}

function execTty(
  cmd: readonly string[],
  size: TerminalSize | undefined,
  io: SessionIo,
): Promise<{ exitCode: number }> {
  return new Promise((resolve, reject) => {
    let term: pty.IPty;
    try {
      term = pty.spawn(cmd[0]!, cmd.slice(1) as string[], {
        name: "xterm",
        cols: size?.width || 80,
        rows: size?.height || 24,
        env: process.env,
      });
    } catch (error) {
      reject(error);
      return;
    }
    let exited = false;
    const kill = () => {
      if (!exited) term.kill("SIGKILL");
    };
    io.signal.addEventListener("abort", kill, { once: true });
    term.onData((data) => io.stdout?.write(data));
    // not term.write: node-pty's queued writes outlive the terminal's fd and land in whatever takes its number
    const input = ptyInput(term);
    io.stdin?.on("data", (chunk: Buffer) => input.write(chunk));
    // end of stdin on a terminal is ^D, as a user would type it
    io.stdin?.on("end", () => input.write("\x04"));
    void resizeLoop(io, (w, h) => {
      if (input.open) term.resize(w, h);
    }).catch(() => {});
    term.onExit(({ exitCode, signal }) => {
      exited = true;
      input.close();
      io.signal.removeEventListener("abort", kill);
      io.stdin?.destroy();
      resolve({ exitCode: signal ? 128 + signal : exitCode });
    });
  });
}

function execPipes(cmd: readonly string[], io: SessionIo): Promise<{ exitCode: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: [io.stdin ? "pipe" : "ignore", io.stdout ? "pipe" : "ignore", io.stderr ? "pipe" : "ignore"],
    });
    const kill = () => child.kill("SIGKILL");
    io.signal.addEventListener("abort", kill, { once: true });
    child.stdin?.on("error", () => {});
    if (io.stdin && child.stdin) io.stdin.pipe(child.stdin);
    if (io.stdout && child.stdout) child.stdout.pipe(io.stdout, { end: false });
    if (io.stderr && child.stderr) child.stderr.pipe(io.stderr, { end: false });
    child.once("error", (error) => {
      io.signal.removeEventListener("abort", kill);
      reject(error);
    });
    child.once("close", (code, signal) => {
      io.signal.removeEventListener("abort", kill);
      if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
      io.stdin?.destroy();
      resolve({ exitCode: code ?? 128 + (signal === "SIGKILL" ? 9 : 15) });
    });
  });
}

/** Carries one TCP connection to 127.0.0.1:port: the client's half-close is passed on; the pod side's FIN ends it. */
function forwardTcp(port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const abort = () => socket.destroy();
    signal.addEventListener("abort", abort, { once: true });
    let connected = false;
    socket.once("connect", () => {
      connected = true;
      stream.pipe(socket);
      socket.pipe(stream);
    });
    // the pod side closing ends the forwarded connection (containerd returns on the first finished copy)
    socket.once("end", () => socket.end());
    stream.on("error", () => socket.destroy());
    socket.on("error", (error) => {
      if (!connected) reject(error);
    });
    socket.once("close", () => {
      signal.removeEventListener("abort", abort);
      stream.unpipe(socket);
      resolve();
    });
  });
}

export interface HostProcessRuntime extends StreamingRuntime {
  /** Starts a host process to attach to under `id`. */
  startContainer(id: string, cmd: readonly string[]): HostContainer;
}

/** The test runtime: real processes and sockets on this host, no containers. */
export function hostProcessRuntime(): HostProcessRuntime {
  const containers = new Map<string, HostContainer>();
  return {
    exec(spec, io) {
      return spec.tty ? execTty(spec.cmd, spec.initialSize, io) : execPipes(spec.cmd, io);
    },
    async attach(spec, io) {
      const container = containers.get(spec.containerId);
      if (container === undefined) throw new Error(`container "${spec.containerId}" not found`);
      const child = container.process;
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        const onOut = (chunk: Buffer) => io.stdout?.write(chunk);
        const onErr = (chunk: Buffer) => io.stderr?.write(chunk);
        container.output.on("stdout", onOut);
        container.output.on("stderr", onErr);
        // stdin flows into the process but its end does not close the container's stdin (no stdin_once)
        if (io.stdin && child.stdin) io.stdin.pipe(child.stdin, { end: false });
        const done = () => {
          container.output.off("stdout", onOut);
          container.output.off("stderr", onErr);
          if (io.stdin && child.stdin) io.stdin.unpipe(child.stdin);
          io.signal.removeEventListener("abort", done);
          child.off("close", done);
          resolve();
        };
        io.signal.addEventListener("abort", done, { once: true });
        child.once("close", done);
      });
    },
    portForward(spec, stream, signal) {
      return forwardTcp(spec.port, stream, signal);
    },
    startContainer(id, cmd) {
      const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
      child.stdin.on("error", () => {});
      const output = new EventEmitter();
      child.stdout.on("data", (chunk: Buffer) => output.emit("stdout", chunk));
      child.stderr.on("data", (chunk: Buffer) => output.emit("stderr", chunk));
      const container = { process: child, output };
      containers.set(id, container);
      return container;
    },
  };
}
