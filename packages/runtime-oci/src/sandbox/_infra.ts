/**
 * The pod's infra without conmon or runc: catatonit -P started through util-linux
 * (`unshare --net=FILE --ipc --uts --pid`, or `nsenter --net` into a netns pinned
 * before) and busybox sh, as PID 1 of the pod's PID namespace, holding its
 * IPC/UTS/PID namespaces (and the network one, pinned to the CNI netns file or
 * its own), in the cgroup `<pod cgroup>/<id>`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CriError } from "@servin/cri-types";
import { pause } from "../_cancel.js";
import { hierarchies } from "../_cgroups.js";
import { SHM_OPTIONS } from "../_mounts.js";
import { findExecutable } from "../host.js";
import type { PodNamespaceModes } from "../spec/namespaces.js";
import type { CgroupMode } from "../spec/resources.js";

/** How long a killed infra may take to be gone (D state is the only delay). */
const KILL_WAIT_MS = 10_000;
/** Rounds (0-1 ms each) catatonit gets to be exec'd after the fork. */
const EXEC_WAIT_ROUNDS = 5_000;
/** Marks every process of the launch chain, so a launch a crash cut short is found by its environment. */
const MARK = "SERVIN_POD_INFRA";

/**
 * Run by busybox sh inside the new namespaces, before any fork: only builtins
 * until catatonit is forked (the first child becomes PID 1 of the new PID
 * namespace, and the namespace dies with it). Says "netns" first when unshare
 * has just pinned the netns (CNI ADD may start: the shell runs only after the
 * bind mount), joins the infra cgroup (the first cgroup.procs write after a
 * quiet spell waits out an RCU grace period, ~10 ms here: ADD runs meanwhile),
 * sets the hostname and the sysctls, forks catatonit without capabilities and
 * with no_new_privs, brings `lo` up in a netns it made (busybox's `ip` applet),
 * mounts the pod's /dev/shm tmpfs (busybox's `mount`: one spawn fewer from the
 * server, whose event loop each fork blocks for ms),
 * and prints catatonit's host pid ($! is in the shell's namespace: the host's).
 * Arguments: cgroup.procs files, "--", then sysctl file/value pairs.
 */
const SCRIPT = `set -e
[ "$SERVIN_PINNED" != 1 ] || echo netns
while [ "$1" != "--" ]; do echo $$ > "$1"; shift; done; shift
if [ -n "$SERVIN_HOSTNAME" ]; then echo "$SERVIN_HOSTNAME" > /proc/sys/kernel/hostname; fi
while [ $# -gt 1 ]; do echo "$2" > "$1" || { echo "sysctl $1: cannot write \\"$2\\"" >&2; exit 1; }; shift 2; done
"$SERVIN_SETPRIV" --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set=-all "$SERVIN_PAUSE" -P </dev/null >/dev/null 2>&1 &
if [ "$SERVIN_LO" = 1 ]; then ip link set lo up; fi
if [ -n "$SERVIN_SHM" ]; then mount -t tmpfs -o "$SERVIN_SHM_OPTIONS" shm "$SERVIN_SHM"; fi
echo $!`;

interface Tools {
  nsenter: string;
  unshare: string;
  setpriv: string;
  busybox: string;
}

let tools: Tools | undefined | null = null;

/** nsenter, unshare, setpriv (util-linux) and busybox, or undefined when one is missing. */
export function infraTools(): Tools | undefined {
  if (tools !== null) return tools;
  const nsenter = findExecutable("nsenter");
  const unshare = findExecutable("unshare");
  const setpriv = findExecutable("setpriv");
  const busybox = findExecutable("busybox");
  tools = nsenter && unshare && setpriv && busybox ? { nsenter, unshare, setpriv, busybox } : undefined;
  return tools;
}

export interface InfraLaunch {
  id: string;
  modes: PodNamespaceModes;
  hostname: string;
  pausePath: string;
  cgroupMode: CgroupMode;
  /** `<pod cgroup>/<id>`. */
  cgroupsPath: string;
  /** The pinned CNI netns to join; without it (or `pinNetnsPath`) a pod-network pod gets a netns of its own (loopback only). */
  netnsPath?: string;
  /** A mount point (cni's netnsMountPoint) where the launch pins the pod's new netns, `lo` up. */
  pinNetnsPath?: string;
  /** Called once the netns at `pinNetnsPath` is pinned (CNI ADD may start), before the launch ends. */
  onNetnsPinned?: () => void;
  /** Where the launch mounts the pod's /dev/shm (a tmpfs with SHM_OPTIONS, as mountShm), unless one is mounted there already (a retry). */
  shmPath?: string;
  sysctls?: Record<string, string>;
  signal?: AbortSignal;
}

/** IPC sysctls runc lets a pod with its own IPC namespace set (besides fs.mqueue.*). */
const IPC_SYSCTLS = new Set([
  "kernel.msgmax",
  "kernel.msgmnb",
  "kernel.msgmni",
  "kernel.sem",
  "kernel.shmall",
  "kernel.shmmax",
  "kernel.shmmni",
  "kernel.shm_rmid_forced",
]);

/**
 * The /proc/sys file of each sysctl, checked as runc checks them: only
 * namespaced ones, and only for a namespace the pod owns. Either separator is
 * accepted ("net.ipv4.ip_forward", "net/ipv4/ip_forward").
 */
export function sysctlFiles(sysctls: Record<string, string>, modes: PodNamespaceModes): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(sysctls)) {
    const name = key.includes("/") ? key.replaceAll("/", ".") : key;
    const parts = name.split(".");
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || parts.some((p) => p === "" || p === "." || p === ".."))
      throw CriError.invalidArgument(`sysctl "${key}": not a valid sysctl name`);
    if (/[\n\0]/.test(value)) throw CriError.invalidArgument(`sysctl "${key}": value must be a single line`);
    const ipc = IPC_SYSCTLS.has(name) || name.startsWith("fs.mqueue.");
    const net = name.startsWith("net.");
    const uts = name === "kernel.domainname";
    if (!ipc && !net && !uts)
      throw CriError.invalidArgument(`sysctl "${key}": not allowed (not a namespaced sysctl)`);
    const own = ipc ? modes.ipc : net ? modes.network : modes.uts;
    if (own !== "pod")
      throw CriError.invalidArgument(
        `sysctl "${key}": not allowed in a pod that shares the host's ${ipc ? "ipc" : net ? "network" : "uts"} namespace`,
      );
    // With the dot form a dot inside a component (a VLAN interface "eth0.100") is ambiguous: the slash form says it.
    out.push([join("/proc/sys", ...(key.includes("/") ? key.split("/") : parts)), value]);
  }
  return out;
}

/**
 * Starts the infra and returns catatonit's pid (host view). The launch chain
 * is detached (its own session): the infra outlives a restart of the server.
 * On failure or abort nothing of it runs any more (see killInfra).
 */
export async function launchInfra(l: InfraLaunch): Promise<number> {
  const t = infraTools();
  if (!t)
    throw CriError.failedPrecondition(
      "pod infra needs nsenter, unshare and setpriv (util-linux) and busybox on the host",
    );
  const sysctls = sysctlFiles(l.sysctls ?? {}, l.modes);
  const procs = prepareInfraCgroup(l.cgroupMode, l.cgroupsPath);
  const argv: string[] = [];
  if (l.netnsPath) argv.push(t.nsenter, `--net=${l.netnsPath}`);
  const ownNetns = l.modes.network === "pod" && !l.netnsPath;
  const pin = ownNetns && l.pinNetnsPath !== undefined;
  const flags = [
    ...(pin ? [`--net=${l.pinNetnsPath}`] : ownNetns ? ["--net"] : []),
    ...(l.modes.ipc === "pod" ? ["--ipc"] : []),
    ...(l.modes.uts === "pod" ? ["--uts"] : []),
    ...(l.modes.pid !== "node" ? ["--pid"] : []),
  ];
  if (flags.length > 0) argv.push(t.unshare, ...flags);
  argv.push(t.busybox, "sh", "-c", SCRIPT, "servin-infra", ...procs, "--", ...sysctls.flat());
  const [cmd, ...args] = argv as [string, ...string[]];
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    [MARK]: l.id,
    SERVIN_PAUSE: l.pausePath,
    SERVIN_SETPRIV: t.setpriv,
    SERVIN_HOSTNAME: l.modes.uts === "pod" ? l.hostname : "",
    // `lo` up in the pod's netns: one the launch made, or (a retry) one it joins that a cut-short launch pinned.
    SERVIN_LO: l.modes.network === "pod" ? "1" : "0",
    SERVIN_PINNED: pin ? "1" : "0",
    SERVIN_SHM: l.shmPath && !ensureDirMounted(l.shmPath) ? l.shmPath : "",
    SERVIN_SHM_OPTIONS: SHM_OPTIONS,
  };
  const child = spawn(cmd, args, { cwd: "/", env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const err: Buffer[] = [];
  let pinned = !pin;
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    if (!pinned && out.startsWith("netns\n")) {
      pinned = true;
      l.onNetnsPinned?.();
    }
  });
  child.stderr.on("data", (d: Buffer) => err.length < 16 && err.push(d));
  const onAbort = () => child.kill("SIGKILL");
  l.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c));
    });
    const pid = Number((pin ? out.replace(/^netns\n/, "") : out).trim());
    if (code !== 0 || !(pid > 0)) {
      await killInfra(l.cgroupMode, l.cgroupsPath, l.id, 0);
      const why = Buffer.concat(err).toString().trim() || `exit status ${code}`;
      if (l.signal?.aborted) throw l.signal.reason ?? new Error("aborted");
      throw CriError.internal(`pod infra of "${l.id}" did not start: ${why}`);
    }
    // The shell prints the pid right after its fork: wait for the exec of catatonit (through setpriv).
    const comm = basename(l.pausePath).slice(0, 15);
    for (let waited = 0; ; waited++) {
      const now = commOf(pid);
      if (now === comm) return pid;
      if (now === undefined || waited >= EXEC_WAIT_ROUNDS || l.signal?.aborted) {
        await killInfra(l.cgroupMode, l.cgroupsPath, l.id, pid);
        if (l.signal?.aborted) throw l.signal.reason ?? new Error("aborted");
        throw CriError.internal(`pod infra of "${l.id}" did not start: ${l.pausePath} is not running`);
      }
      await pause(waited < 10 ? 0 : 1, l.signal);
    }
  } finally {
    l.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Creates `cgroupsPath` in every hierarchy (v1 cpuset levels get their
 * parent's cpus and mems, or they take no process) and returns the
 * cgroup.procs files the infra joins. Synchronous on purpose: cgroupfs
 * operations are in-memory (a few µs each, ~0.4 ms for v1's ten hierarchies),
 * while queued in libuv's four threads they waited behind the pod files' and
 * CNI records' fsyncs, and the launch, the longest step, started 8+ ms late.
 */
function prepareInfraCgroup(mode: CgroupMode, cgroupsPath: string): string[] {
  return hierarchies(mode).map((h) => {
    const dir = join(h, cgroupsPath);
    if (basename(h) === "cpuset") cpusetDir(h, dir);
    else mkdirSync(dir, { recursive: true });
    return join(dir, "cgroup.procs");
  });
}

function cpusetDir(root: string, dir: string): void {
  if (dir === root) return;
  if (!existsSync(join(dir, "cpuset.cpus"))) {
    cpusetDir(root, dirname(dir));
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  for (const f of ["cpuset.cpus", "cpuset.mems"]) {
    let mine = "";
    try {
      mine = readFileSync(join(dir, f), "utf8").trim();
    } catch {}
    if (mine !== "") continue;
    writeFileSync(join(dir, f), readFileSync(join(dirname(dir), f), "utf8").trim());
  }
}

/** Makes `path` when missing, and says whether something is mounted on it (another device than its parent's). */
function ensureDirMounted(path: string): boolean {
  mkdirSync(path, { recursive: true });
  return statSync(path).dev !== statSync(dirname(path)).dev;
}

/**
 * The process's comm, or undefined when it is gone or a zombie. Read synchronously, like the
 * cgroup.procs files below: procfs and cgroupfs answer from memory in µs, and Stop polls them
 * every ms beside CNI DEL, whose own file steps must not queue behind them in libuv's pool.
 */
function commOf(pid: number): string | undefined {
  let stat = "";
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {}
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  const state = stat.charAt(close + 2);
  if (state === "Z" || state === "X" || state === "") return undefined;
  return stat.slice(stat.indexOf("(") + 1, close);
}

/** True when `pid` is still this pod's catatonit: its comm, and its cgroup named after the pod (a reused pid cannot fool us). */
export async function isLiveProcessInfra(pid: number, id: string, pausePath: string): Promise<boolean> {
  if (!(pid > 0)) return false;
  const comm = commOf(pid);
  const cgroup = await readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => "");
  return comm === basename(pausePath).slice(0, 15) && cgroup.includes(id);
}

/**
 * Every live process of the infra: its cgroup's members, else (a launch cut short) the marked
 * chain. The launch joins the hierarchies in their order, so a process in any of them is in
 * the first: one cgroup.procs read per poll, not ten once the infra is gone.
 */
async function infraPids(mode: CgroupMode, cgroupsPath: string, id: string, pid: number): Promise<number[]> {
  const found = new Set<number>();
  const first = hierarchies(mode)[0];
  let text = "";
  try {
    if (first) text = readFileSync(join(first, cgroupsPath, "cgroup.procs"), "utf8");
  } catch {}
  for (const p of text.split("\n")) if (Number(p) > 0) found.add(Number(p));
  if (pid > 0 && commOf(pid) !== undefined && found.size === 0) found.add(pid);
  if (pid === 0) {
    // Half-created (the pid was never recorded): also the launch chain before it joined the cgroup.
    for (const name of await readdir("/proc").catch(() => [] as string[])) {
      if (!/^\d+$/.test(name)) continue;
      const env = await readFile(`/proc/${name}/environ`, "utf8").catch(() => "");
      if (env.includes(`\0${MARK}=${id}\0`) || env.startsWith(`${MARK}=${id}\0`)) found.add(Number(name));
    }
  }
  return [...found].filter((p) => commOf(p) !== undefined);
}

/**
 * Kills the infra (SIGKILL: catatonit holds nothing to flush, and PID 1 dying
 * takes its whole PID namespace with it) and waits until none of it runs.
 * Idempotent: nothing to do once it is gone. `pid` 0 when it was never recorded.
 */
export async function killInfra(
  mode: CgroupMode,
  cgroupsPath: string,
  id: string,
  pid: number,
  signal?: AbortSignal,
): Promise<void> {
  for (let waited = 0; waited < KILL_WAIT_MS && !signal?.aborted; ) {
    const pids = await infraPids(mode, cgroupsPath, id, pid);
    if (pids.length === 0) return;
    for (const p of pids) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
    const step = waited < 20 ? 1 : 20;
    await pause(step, signal);
    waited += step;
  }
}
