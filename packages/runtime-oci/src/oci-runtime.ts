/** The OciRuntime seam: a driver for a runc-compatible CLI (runc, crun) with Servin's own --root. */
import { closeSync, constants as fsConstants, openSync, readSync } from "node:fs";
import { access, open, readFile, unlink } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { basename, join } from "node:path";
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
  /**
   * What the runtime's state directory says, without running the runtime (a
   * Go binary's start costs ~8 ms here): "created" while its init waits to
   * exec, "started" after (running or stopped), undefined when the runtime
   * does not know the container. Absent when the layout is not runc's:
   * callers then ask `state` (see `lookupContainer`).
   */
  lookup?(id: string): Promise<"created" | "started" | undefined>;
  start(id: string): Promise<void>;
  /** Sends a signal to the init process; a container that is gone or stopped is not an error. */
  kill(id: string, signal: string): Promise<void>;
  /**
   * What `kill` does without running the runtime (its Go process start is
   * most of a stop's cost): reads the init pid and its start time from the
   * runtime's state directory and signals the pid only while /proc says the
   * same process still holds it (runc's own guard against a recycled pid).
   * "sent", or "stopped" when the init is gone or the container unknown;
   * undefined when it cannot tell (unreadable state, a signal Node cannot
   * name): the caller then uses `kill`. Absent when the layout is not runc's.
   */
  signal?(id: string, signal: string): Promise<"sent" | "stopped" | undefined>;
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
  const runcLayout = basename(opts.path).startsWith("runc");
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

    ...(runcLayout
      ? {
          // runc keeps <root>/<id>/state.json from create to delete, and exec.fifo until start.
          async lookup(id: string) {
            if (!(await present(join(opts.root, id, "state.json")))) return undefined;
            return (await present(join(opts.root, id, "exec.fifo"))) ? "created" : "started";
          },
        }
      : {}),

    ...(runcLayout
      ? { signal: (id: string, signal: string) => signalInit(join(opts.root, id), signal) }
      : {}),

    async start(id) {
      // What `runc start` does, minus its Go process start: open the exec fifo, let init write to it, remove it.
      if (runcLayout && (await releaseInit(join(opts.root, id)))) return;
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

/** `runtime.lookup`, or `runtime state` where the runtime's layout is not known. */
export async function lookupContainer(
  runtime: OciRuntime,
  id: string,
): Promise<"created" | "started" | undefined> {
  if (runtime.lookup) return runtime.lookup(id);
  const st = await runtime.state(id);
  if (!st) return undefined;
  return st.status === "created" || st.status === "creating" ? "created" : "started";
}

/** How long a created init may take to write to its exec fifo once it is opened (it does so at once). */
const FIFO_WAIT_MS = 10_000;

/**
 * Starts a runc container the way `runc start` does (libcontainer's
 * `exec()`): runc's init, blocked opening `<state>/exec.fifo` for writing,
 * writes one byte once a reader opens it, then execs the container process;
 * the fifo is removed, which is what makes runc report "running" from then
 * on. Returns false, touching nothing, when there is no fifo (not created, or
 * started already: `runc start` then says which). O_NONBLOCK, so a dead init
 * cannot hang a thread: until the byte comes, the init pid (runc's
 * state.json) is checked alive, as runc start does.
 */
async function releaseInit(stateDir: string): Promise<boolean> {
  const fifoPath = join(stateDir, "exec.fifo");
  let fd: number;
  try {
    fd = openSync(fifoPath, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const pid = await initPid(stateDir);
    // A start cut short between the byte and the unlink (the server killed there): the init has
    // exec'd the process already and will never write again. Finish that start: remove the fifo.
    if (pid && (await alive(pid)) && !(await stillRuncInit(pid))) {
      closeSync(fd);
      fd = -1;
      await unlink(fifoPath).catch(() => {});
      return true;
    }
    const buf = Buffer.alloc(1);
    const deadline = Date.now() + FIFO_WAIT_MS;
    for (let round = 0; ; round++) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
      }
      if (n > 0) break;
      // 0: the writer has not opened its end yet; EAGAIN: it has, the byte is on its way.
      if (round % 50 === 49 && !(pid && (await alive(pid)))) {
        throw new Error("the container's init process died before it was started");
      }
      if (Date.now() > deadline) throw new Error("the container's init did not take the start signal");
      await new Promise((r) => setTimeout(r, round < 10 ? 0 : 1));
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  await unlink(fifoPath);
  return true;
}

/** Whether `pid` is still runc's init (comm "runc:[2:INIT]"), not yet the container's process. */
async function stillRuncInit(pid: number): Promise<boolean> {
  const comm = await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "");
  return comm.startsWith("runc:");
}

async function initPid(stateDir: string): Promise<number | undefined> {
  try {
    const st = JSON.parse(await readFile(join(stateDir, "state.json"), "utf8")) as {
      init_process_pid?: unknown;
    };
    return typeof st.init_process_pid === "number" ? st.init_process_pid : undefined;
  } catch {
    return undefined;
  }
}

/** A signal as process.kill takes it ("TERM", "SIGTERM", "15"); undefined for names Node lacks (SIGRTMIN+3). */
function signalNumber(signal: string): number | undefined {
  if (/^\d+$/.test(signal)) {
    const n = Number(signal);
    return n > 0 && n < 65 ? n : undefined;
  }
  const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as keyof typeof osConstants.signals;
  return osConstants.signals[name];
}

/**
 * Signals a runc container's init the way runc 1.1's `kill` does
 * (libcontainer `Signal`: status from `runType`, then `initProcess.signal`):
 * the pid from `state.json` counts as the init only while /proc/<pid>/stat
 * shows the start time runc recorded and the process is not a zombie; a
 * recycled pid belongs to someone else and is never signalled.
 */
export async function signalInit(stateDir: string, signal: string): Promise<"sent" | "stopped" | undefined> {
  const num = signalNumber(signal);
  if (num === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(join(stateDir, "state.json"), "utf8");
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "stopped" : undefined;
  }
  let pid: unknown;
  let start: unknown;
  try {
    ({ init_process_pid: pid, init_process_start: start } = JSON.parse(text) as Record<string, unknown>);
  } catch {
    return undefined; // torn or foreign: runc decides
  }
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0 || typeof start !== "number")
    return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "") return "stopped";
  // Fields after "(comm)": state is field 3, starttime field 22.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X" || Number(fields[19]) !== start) return "stopped";
  try {
    process.kill(pid, num);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return "stopped";
    throw err;
  }
  return "sent";
}

/** Alive and not a zombie. */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "" && state !== "Z" && state !== "X";
}

const present = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

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
