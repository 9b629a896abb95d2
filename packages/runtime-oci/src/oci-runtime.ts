/** The OciRuntime seam: a driver for a runc-compatible CLI (runc, crun) with Servin's own --root. */
import { open, unlink } from "node:fs/promises";
import { CriError } from "@servin/cri-types";
import { CommandError, run, runOk } from "./_exec.js";
import type { OciLinuxResources } from "./spec/types.js";

/** What `runc state` says. */
export interface RuntimeState {
  id: string;
  pid: number;
  status: "creating" | "created" | "running" | "stopped" | "paused";
  bundle: string;
  created: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export interface ExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  maxOutput?: number;
  /** Where runc writes the exec'd process pid (to kill it on timeout). */
  pidFile: string;
}

/** A runc-compatible OCI runtime. Every method is safe to call on a container that no longer exists unless said. */
export interface OciRuntime {
  /** The runtime handler name ("runc", "crun"). */
  readonly name: string;
  readonly path: string;
  /** The runtime's state directory (`--root`). */
  readonly root: string;
  /** undefined when the runtime does not know the container. */
  state(id: string): Promise<RuntimeState | undefined>;
  list(): Promise<RuntimeState[]>;
  start(id: string): Promise<void>;
  /** Sends a signal to the init process; a container that is gone or stopped is not an error. */
  kill(id: string, signal: string): Promise<void>;
  /** `delete --force`; missing containers are ignored. */
  delete(id: string): Promise<void>;
  exec(id: string, cmd: string[], opts: ExecOptions): Promise<ExecResult>;
  update(id: string, resources: OciLinuxResources): Promise<void>;
}

const NOT_EXIST = /does not exist|not exist|no such file|container .* not found/i;

/**
 * @example
 * const runc = createRuncRuntime({ name: "runc", path: "/usr/sbin/runc", root: "/run/servin/runc" });
 * await runc.state("3f2a…");
 */
export function createRuncRuntime(opts: { name: string; path: string; root: string }): OciRuntime {
  const base = ["--root", opts.root];
  const call = (args: string[], input?: string) =>
    run(opts.path, [...base, ...args], input === undefined ? {} : { input });

  return {
    name: opts.name,
    path: opts.path,
    root: opts.root,

    async state(id) {
      const r = await call(["state", id]);
      if (r.code !== 0) {
        if (NOT_EXIST.test(r.stderr.toString())) return undefined;
        throw new CommandError(`${opts.name} state ${id}: ${r.stderr.toString().trim()}`, r);
      }
      return JSON.parse(r.stdout.toString()) as RuntimeState;
    },

    async list() {
      const r = await runOk(opts.path, [...base, "list", "--format", "json"]);
      const text = r.stdout.toString().trim();
      return text === "" || text === "null" ? [] : (JSON.parse(text) as RuntimeState[]);
    },

    async start(id) {
      await runOk(opts.path, [...base, "start", id]);
    },

    async kill(id, signal) {
      const r = await call(["kill", id, signal.replace(/^SIG/, "")]);
      if (r.code === 0) return;
      const msg = r.stderr.toString();
      // Gone or already stopped: the signal has nothing left to reach.
      if (NOT_EXIST.test(msg) || /not running|process already finished|container not running/i.test(msg))
        return;
      throw new CommandError(`${opts.name} kill ${id} ${signal}: ${msg.trim()}`, r);
    },

    async delete(id) {
      const r = await call(["delete", "--force", id]);
      if (r.code === 0 || NOT_EXIST.test(r.stderr.toString())) return;
      throw new CommandError(`${opts.name} delete ${id}: ${r.stderr.toString().trim()}`, r);
    },

    async exec(id, cmd, execOpts) {
      await unlink(execOpts.pidFile).catch(() => {});
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      // On timeout or cancellation, kill the exec'd process itself (from its
      // pid file): killing runc would leave the process running in the container.
      let finished = false;
      const killProcess = async () => {
        // runc writes the pid file once the process exists; retry briefly.
        for (let i = 0; i < 50 && !finished; i++) {
          const pid = await readPid(execOpts.pidFile);
          if (pid) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {}
            return;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      if (execOpts.timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          void killProcess();
        }, execOpts.timeoutMs);
      }
      const onAbort = () => void killProcess();
      execOpts.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const r = await run(opts.path, [...base, "exec", "--pid-file", execOpts.pidFile, id, ...cmd], {
          closeGraceMs: 1000,
          ...(execOpts.maxOutput === undefined ? {} : { maxOutput: execOpts.maxOutput }),
        });
        return { exitCode: r.code, stdout: r.stdout, stderr: r.stderr, timedOut };
      } finally {
        finished = true;
        if (timer) clearTimeout(timer);
        execOpts.signal?.removeEventListener("abort", onAbort);
        await unlink(execOpts.pidFile).catch(() => {});
      }
    },

    async update(id, resources) {
      const r = await call(["update", "--resources", "-", id], JSON.stringify(resources));
      if (r.code !== 0) {
        const msg = r.stderr.toString().trim();
        if (NOT_EXIST.test(msg)) throw CriError.notFound(`container "${id}" not found in ${opts.name}`);
        throw CriError.internal(`${opts.name} update ${id}: ${msg}`);
      }
    },
  };
}

/** Reads a pid file; undefined when missing or empty (the process has not been created yet). */
export async function readPid(path: string): Promise<number | undefined> {
  try {
    const fh = await open(path, "r");
    try {
      const text = (await fh.readFile("utf8")).trim();
      const pid = Number(text);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
