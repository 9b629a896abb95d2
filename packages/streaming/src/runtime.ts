/** The seam between the streaming server and a container runtime: what Exec, Attach and PortForward need from it. */
import type { Duplex, Readable, Writable } from "node:stream";

/** A terminal size as kubelet's resize stream carries it (`{"Width":80,"Height":24}`). */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The streams of one Exec or Attach session. Each is null when the request did not ask for it
 * (and `stderr` is always null with a tty: the terminal merges both outputs).
 * The runtime writes to `stdout`/`stderr` but never ends them: the server ends them once the
 * returned promise settles. `signal` aborts when the client goes away or the server closes;
 * the runtime must then end everything it started (processes, fds) before settling.
 */
export interface SessionIo {
  stdin: Readable | null;
  stdout: Writable | null;
  stderr: Writable | null;
  /** Terminal size changes, in order; null without a tty or when the protocol has no resize stream. */
  resize: AsyncIterable<TerminalSize> | null;
  signal: AbortSignal;
}

export interface ExecSpec {
  containerId: string;
  cmd: readonly string[];
  tty: boolean;
  /** With a tty: the client's terminal size when it sent one within a moment of connecting; create the terminal at this size. */
  initialSize?: TerminalSize;
}

export interface AttachSpec {
  containerId: string;
  tty: boolean;
  /** With a tty: the client's first terminal size, if it came (resize the container's terminal to it). */
  initialSize?: TerminalSize;
}

export interface PortForwardSpec {
  podSandboxId: string;
  port: number;
}

/**
 * What a runtime implements so the streaming server can serve its sessions.
 * The container implementation (runc exec, conmon's attach socket, a helper in the pod netns)
 * lives with the OCI backend; tests use `hostProcessRuntime` (real local processes and TCP).
 */
export interface StreamingRuntime {
  /** Runs `cmd` in the container; resolves with its exit code once it exited and its output was written. */
  exec(spec: ExecSpec, io: SessionIo): Promise<{ exitCode: number }>;
  /** Connects to the running container's stdio; resolves when the container or the session ends. */
  attach(spec: AttachSpec, io: SessionIo): Promise<void>;
  /**
   * Carries one connection to `port` in the pod's network namespace over `stream`: bytes both ways;
   * the client's half-close (stream end) becomes shutdown(SHUT_WR) so the reply still comes back; the
   * pod side's FIN ends `stream` and the connection (containerd returns on the first finished copy).
   * Resolves when both directions are done; on `signal` it destroys the connection and resolves.
   */
  portForward(spec: PortForwardSpec, stream: Duplex, signal: AbortSignal): Promise<void>;
}
