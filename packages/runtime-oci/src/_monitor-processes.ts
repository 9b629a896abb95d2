/**
 * Who still works on a container: its conmon, and the runtime processes under
 * it. Only conmon writes the exit file, so once no conmon watches a container
 * no exit file will come, and nobody should wait for one (issue 14: a crash
 * mid-create left containers whose cleanup waited the full kill timeout).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pause } from "./_cancel.js";
import type { ExitRecord, ExitWatcher } from "./_exits.js";
import { readPid } from "./oci-runtime.js";

/** How often a wait for an exit file re-checks that a conmon is still there to write it. */
const LIVENESS_CHECK_MS = 200;
/** How long processes killed with SIGKILL may take to be gone (D state is the only delay). */
const KILL_WAIT_MS = 10_000;

interface ProcessInfo {
  pid: number;
  comm: string;
  session: number;
  argv: string[];
}

async function processInfo(
  pid: number,
  withArgv: (comm: string) => boolean,
): Promise<ProcessInfo | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  if (open < 0 || close < 0) return undefined;
  // Fields after the parenthesised command: state ppid pgrp session …
  const f = stat.slice(close + 2).split(" ");
  if (f[0] === "Z" || f[0] === "X") return undefined; // a zombie runs nothing and holds nothing
  const comm = stat.slice(open + 1, close);
  const argv = withArgv(comm)
    ? (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0")
    : [];
  return { pid, comm, session: Number(f[3]), argv };
}

/** True when the pid runs conmon for container `id` (a pid file can outlive its process; pids are reused). */
async function isMonitorOf(pid: number, id: string): Promise<boolean> {
  const p = await processInfo(pid, () => true);
  return p !== undefined && p.comm === "conmon" && p.argv.includes(id);
}

/**
 * The live conmon processes of container (or pod infra) `id`: the daemon from
 * its pid file, else — before conmon wrote it, or when it is lost — any conmon
 * whose arguments name the id.
 */
async function monitorPids(bundle: string, id: string): Promise<number[]> {
  const daemon = await readPid(join(bundle, "conmon.pid"));
  if (daemon && (await isMonitorOf(daemon, id))) return [daemon];
  return (await scan((comm) => comm === "conmon")).filter((p) => p.argv.includes(id)).map((p) => p.pid);
}

/** True while a conmon of container `id` lives (a crash can leave a runtime container whose conmon died). */
export async function monitorAlive(bundle: string, id: string): Promise<boolean> {
  return (await monitorPids(bundle, id)).length > 0;
}

async function scan(withArgv: (comm: string) => boolean): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const p = await processInfo(Number(name), withArgv);
    if (p) out.push(p);
  }
  return out;
}

/**
 * The exit of `id` once its file appears, or undefined as soon as no conmon
 * is left to write it (or after `timeoutMs`, or at once when `signal`
 * aborts: the caller checks the signal). Never waits out a timeout for a
 * file that cannot come.
 */
export async function waitForExit(
  exits: ExitWatcher,
  bundle: string,
  id: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ExitRecord | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = await exits.wait(
      id,
      Math.min(LIVENESS_CHECK_MS, Math.max(0, deadline - Date.now())),
      signal,
    );
    if (exit) return exit;
    if (Date.now() >= deadline || signal?.aborted) return undefined;
    if ((await monitorPids(bundle, id)).length === 0) return exits.read(id); // written just before it left?
  }
}

/**
 * Kills everything still working on container `id` — its conmon and the
 * sessions conmon leads (the runtime's create and init run there), plus any
 * runtime process naming the id — and waits until none of it runs. Used to
 * clean up a container whose create was cut short (a crash of the server):
 * the conmon it left may still be about to run `runtime create`, which must
 * not happen after the cleanup ran `runtime delete`.
 */
export async function killContainerProcesses(id: string, signal?: AbortSignal): Promise<void> {
  const find = async () => {
    const all = await scan((comm) => comm === "conmon" || comm.startsWith("runc") || comm === "crun");
    const own = all.filter((p) => p.argv.includes(id) && (p.comm === "conmon" || p.argv.includes("create")));
    const sessions = new Set(own.filter((p) => p.comm === "conmon").map((p) => p.session));
    // conmon's daemon leads its own session (setsid); never take over the caller's session.
    sessions.delete(await ownSession());
    const ownPids = new Set(own.map((p) => p.pid));
    return all.filter((p) => ownPids.has(p.pid) || sessions.has(p.session)).map((p) => p.pid);
  };
  // An abort stops the waiting, not the killing: every round sends SIGKILL first.
  for (let waited = 0; waited < KILL_WAIT_MS && !signal?.aborted; waited += 50) {
    const pids = await find();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await pause(50, signal);
  }
}

/**
 * Kills the conmon of `id` (SIGKILL, so it writes no exit file) and waits until
 * it is gone. Undoing a create that conmon had finished: the container's init
 * must not die while its conmon still watches it, or an exit would be reported
 * for a container that was never created.
 */
export async function killMonitors(bundle: string, id: string): Promise<void> {
  for (let waited = 0; waited < KILL_WAIT_MS; waited += 50) {
    const pids = await monitorPids(bundle, id);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    await pause(50);
  }
}

let session: number | undefined;
async function ownSession(): Promise<number> {
  session ??= (await processInfo(process.pid, () => false))?.session ?? -1;
  return session;
}

/**
 * What a container's init process says about it without spawning the runtime
 * (a `runc state` per container is what made recovery slow on 2 cores):
 * "created" while runc's init still waits to exec, "running" after, or
 * undefined when `pid` is gone, a zombie, or no longer this container's
 * (it must live in a cgroup named after the container, so a reused pid cannot fool us).
 */
export async function containerInit(pid: number, id: string): Promise<"created" | "running" | undefined> {
  if (!(pid > 0)) return undefined;
  const [p, cgroup] = await Promise.all([
    processInfo(pid, () => false),
    readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => ""),
  ]);
  if (!p || !cgroup.includes(id)) return undefined;
  return p.comm.startsWith("runc:") ? "created" : "running";
}
