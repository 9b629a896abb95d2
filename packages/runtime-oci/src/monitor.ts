/** The Monitor seam: conmon holds a container's stdio, writes its CRI log and exit file, and outlives Servin. */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { appendFile, open, readdir, readFile, stat } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { CriError } from "@servin/cri-types";
import { cancelledError } from "./_cancel.js";
import type { OciRuntime } from "./oci-runtime.js";

export interface MonitorCreateOptions {
  id: string;
  /** Shown in conmon's logs: the CRI name. */
  name: string;
  bundle: string;
  runtime: OciRuntime;
  /** CRI log file; "" discards output. */
  logPath: string;
  exitDir: string;
  /** Where the runtime writes the container's init pid. */
  pidFile: string;
  conmonPidFile: string;
  socketDir: string;
  terminal: boolean;
  stdin: boolean;
  /** Keep the container's stdin open when an attached client's ends (CRI stdin_once false). */
  leaveStdinOpen?: boolean;
  /** conmon log level ("error", "warn", "info", "debug"). */
  logLevel?: string;
  /** cgroup.procs files to move conmon into before it starts the runtime (best effort). */
  cgroupProcs?: string[];
  /**
   * An overlay mount (the container's rootfs) made in conmon's own process
   * just before it becomes conmon (`sh -c 'mount …; exec conmon …'`): one fork
   * of the daemon for both, where each fork of a large process stalls its
   * event loop for milliseconds. conmon runs whatever the mount's outcome
   * (handed to `ready`) and waits on its start pipe, so a failed mount can
   * still be made good (the copy fallback) before the runtime runs.
   */
  mount?: OverlayMount;
  /**
   * Work conmon's start waits for, done while conmon itself starts up: called
   * with the outcome of `mount` once known (at once, with undefined, without
   * one); conmon runs the runtime only once its promise resolves, and a
   * rejection fails the create with that error (conmon killed first).
   */
  ready?: (mount: MountOutcome | undefined) => Promise<unknown>;
  /**
   * Aborting it while the runtime's create runs kills conmon and everything
   * under it, waits until they are gone, and rejects with the cancellation
   * error; once the pid was reported it has no effect.
   */
  signal?: AbortSignal;
}

/** `mount -t overlay overlay -o <data> <target>`, run in `cwd` (relative lowerdirs) when given. */
export interface OverlayMount {
  data: string;
  target: string;
  cwd?: string;
}

/** How `mount` ended: its exit code (-1 when it never reported one) and its stderr. */
export interface MountOutcome {
  code: number;
  stderr: string;
}

/** A process monitor that creates containers (runtime `created` state) and keeps them company until they exit. */
export interface Monitor {
  /** Creates the container under a detached monitor; resolves with the container's init pid. */
  create(opts: MonitorCreateOptions): Promise<{ pid: number }>;
  /**
   * Asks the monitor to reopen the container's log file `logPath` (after
   * rotation) and resolves once the new file is in place ("" = no log file).
   */
  reopenLog(bundle: string, id: string, logPath: string): Promise<void>;
}

/**
 * How long conmon may take to report the runtime's create (runc create is
 * normally ~100 ms). Well under kubelet's 2-minute CRI deadline, so the failure
 * (and the cleanup after it) happens while kubelet still listens.
 */
const SYNC_TIMEOUT_MS = 60_000;
/**
 * `sh -c` with: $1 the mount's working directory ("" = stay), $2 its options,
 * $3 its target, then conmon's path and arguments. The mount's stderr and
 * exit code go to fd 5, closed before conmon is exec'd in sh's place (same
 * pid, same session: the monitor's kill reaches a mount still running). No
 * input is ever part of the script: everything comes in as arguments.
 */
const MOUNT_THEN_CONMON = [
  "bundle=$PWD",
  '{ { [ -z "$1" ] || cd -- "$1"; } && mount -t overlay overlay -o "$2" "$3"; } 2>&5',
  'printf "\\n%d" "$?" >&5',
  "exec 5>&-",
  'cd -- "$bundle" || exit 1',
  "shift 3",
  'exec "$@"',
].join("\n");

/** How long conmon may take to put the reopened log file in place (it does so within milliseconds). */
const REOPEN_WAIT_MS = 10_000;
/** How long a killed conmon (and the runtime under it) may take to be gone. */
const KILL_WAIT_MS = 10_000;

/**
 * conmon 2.1, driven as CRI-O does: fd 3 (_OCI_SYNCPIPE) reports the pid as
 * JSON, fd 4 (_OCI_STARTPIPE) holds conmon until we let it go. conmon
 * double-forks, so the container survives Servin; spawning it detached
 * (setsid) keeps it out of our process group and session.
 *
 * @example
 * const monitor = createConmonMonitor({ path: "/usr/bin/conmon" });
 * const { pid } = await monitor.create({ id, name, bundle, runtime, logPath, exitDir, pidFile, conmonPidFile, socketDir, terminal: false, stdin: false });
 */
export function createConmonMonitor(opts: {
  path: string;
  /** Overrides the 60 s limit on conmon reporting the container pid (tests). */
  syncTimeoutMs?: number;
}): Monitor {
  return {
    create(c) {
      const syncTimeoutMs = opts.syncTimeoutMs ?? SYNC_TIMEOUT_MS;
      const args = [
        "--api-version",
        "1",
        "-c",
        c.id,
        "-u",
        c.id,
        "-r",
        c.runtime.path,
        "-b",
        c.bundle,
        "-p",
        c.pidFile,
        "-n",
        c.name,
        "--exit-dir",
        c.exitDir,
        "--socket-dir-path",
        c.socketDir,
        "-P",
        c.conmonPidFile,
        "-l",
        c.logPath ? `k8s-file:${c.logPath}` : "none:",
        "--log-level",
        c.logLevel ?? "error",
        "--runtime-arg",
        `--root=${c.runtime.root}`,
        // Keep the exit file authoritative: conmon syncs the log before writing it.
        "--persist-dir",
        c.bundle,
      ];
      if (c.terminal) args.push("-t");
      if (c.stdin) args.push("-i");
      if (c.stdin && c.leaveStdinOpen) args.push("--leave-stdin-open");
      if (c.signal?.aborted) return Promise.reject(cancelledError(c.signal, `container "${c.id}": create`));
      const m = c.mount;
      return new Promise((resolve, reject) => {
        // With a rootfs to mount, a shell mounts it in what becomes conmon (exec) and reports on fd 5.
        const [file, argv] = m
          ? [
              "/bin/sh",
              ["-c", MOUNT_THEN_CONMON, "conmon", m.cwd ?? "", m.data, m.target, opts.path, ...args],
            ]
          : [opts.path, args];
        const child = spawn(file, argv, {
          detached: true,
          stdio: ["ignore", "ignore", "pipe", "pipe", "pipe", ...(m ? (["pipe"] as const) : [])],
          env: { ...process.env, _OCI_SYNCPIPE: "3", _OCI_STARTPIPE: "4" },
          cwd: c.bundle,
        });
        child.unref();
        const stderr: Buffer[] = [];
        const sync = child.stdio[3] as Readable;
        const start = child.stdio[4] as Writable;
        const mountPipe = m ? (child.stdio as unknown as Readable[])[5] : undefined;
        // A conmon gone early (or never exec'd) closes its pipes: what that means comes through sync's end.
        start.on("error", () => {});
        let buf = "";
        let settled = false;
        const cleanup = () => {
          clearTimeout(timer);
          c.signal?.removeEventListener("abort", onAbort);
          sync.destroy();
          start.destroy();
          mountPipe?.destroy();
          child.stderr?.destroy();
        };
        // On any failure the detached conmon may still be running — and with it
        // a runtime that could create the container after the caller's cleanup
        // ran `runtime delete`. Kill its whole session and wait until it is gone
        // before rejecting, so the caller's cleanup comes strictly after.
        const fail = (message: string | CriError) => {
          if (settled) return;
          settled = true;
          cleanup();
          void killMonitor(child.pid, exited, c.conmonPidFile).then(() =>
            reject(
              typeof message === "string" ? CriError.internal(`container "${c.id}": ${message}`) : message,
            ),
          );
        };
        const onAbort = () => {
          if (c.signal) fail(cancelledError(c.signal, `container "${c.id}": create`));
        };
        c.signal?.addEventListener("abort", onAbort, { once: true });
        const exited = new Promise<void>((res) => {
          if (child.exitCode !== null || child.signalCode !== null) res();
          else child.once("exit", () => res());
          child.once("error", () => res());
        });
        // Armed once conmon is let go: `ready` (a copy fallback of the rootfs) may take its time.
        let timer: NodeJS.Timeout | undefined;
        child.stderr?.on("data", (d: Buffer) => stderr.push(d));
        child.on("error", (err) => fail(`cannot run conmon ${opts.path}: ${err.message}`));
        sync.on("data", (d: Buffer) => {
          buf += d.toString();
          let msg: { data?: number; message?: string };
          try {
            msg = JSON.parse(buf);
          } catch {
            return; // incomplete JSON so far
          }
          if (settled) return;
          if (typeof msg.data === "number" && msg.data > 0) {
            settled = true;
            cleanup();
            resolve({ pid: msg.data });
          } else {
            fail(`${c.runtime.name} create failed: ${(msg.message ?? "").trim() || "unknown error"}`);
          }
        });
        sync.on("end", () => {
          const why = Buffer.concat(stderr).toString().trim();
          if (!m) return fail(`conmon exited before reporting a pid${why ? `: ${why}` : ""}`);
          // Under sh, a conmon that cannot be executed is sh's exit 127/126, not a spawn error: same message as spawn's.
          void exited.then(() => {
            const code = child.exitCode === 127 ? "ENOENT" : child.exitCode === 126 ? "EACCES" : undefined;
            if (code) fail(`cannot run conmon ${opts.path}: spawn ${opts.path} ${code}`);
            else fail(`conmon exited before reporting a pid${why ? `: ${why}` : ""}`);
          });
        });
        // The mount's stderr, then "\n<exit code>" once it is done; sh closes the pipe before it execs conmon.
        const mounted = mountPipe
          ? new Promise<MountOutcome>((res) => {
              const out: Buffer[] = [];
              mountPipe.on("data", (d: Buffer) => out.push(d));
              mountPipe.on("error", () => {});
              mountPipe.on("close", () => {
                const text = Buffer.concat(out).toString();
                const nl = text.lastIndexOf("\n");
                const code = nl >= 0 && /^\d+$/.test(text.slice(nl + 1)) ? Number(text.slice(nl + 1)) : -1;
                res({ code, stderr: (code === -1 ? text : text.slice(0, nl)).trim() });
              });
            })
          : undefined;
        // conmon blocks on the start pipe: place it in its cgroup first, so
        // that it (and its double-forked daemon) never lives in ours.
        const pid = child.pid;
        void Promise.all([
          ...(c.cgroupProcs ?? []).map((procs) =>
            pid ? appendFile(procs, `${pid}\n`).catch(() => undefined) : undefined,
          ),
          mounted ? mounted.then((o) => c.ready?.(o)) : c.ready?.(undefined),
        ]).then(
          () => {
            if (settled) return;
            timer = setTimeout(
              () =>
                fail(`conmon did not report the container pid within ${Math.round(syncTimeoutMs / 1000)} s`),
              syncTimeoutMs,
            );
            start.end("0");
          },
          (err: unknown) => fail(err instanceof CriError ? err : `${(err as Error).message ?? err}`),
        );
      });
    },

    async reopenLog(bundle, id, logPath) {
      const before = logPath ? await inode(logPath) : undefined;
      let fh: Awaited<ReturnType<typeof open>>;
      try {
        // O_NONBLOCK: opening a FIFO nobody reads would otherwise block forever.
        fh = await open(`${bundle}/ctl`, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (err) {
        throw CriError.failedPrecondition(
          `container "${id}" is not running: its monitor is gone (${(err as Error).message})`,
        );
      }
      try {
        // conmon's control protocol: "<event> <h> <w>\n"; event 2 = REOPEN_LOGS_EVENT.
        await fh.write("2 0 0\n");
      } finally {
        await fh.close();
      }
      if (logPath) await waitForNewFile(id, logPath, before);
    },
  };
}

/** The inode of `path`, or undefined when nothing is there. */
async function inode(path: string): Promise<bigint | undefined> {
  return stat(path, { bigint: true }).then(
    (st) => st.ino,
    () => undefined,
  );
}

/**
 * conmon handles the control FIFO in its own loop, after our write returned:
 * kubelet (and critest) look for the new file as soon as ReopenContainerLog
 * answers, so wait for it. conmon writes `<log>.tmp` and renames it over the
 * log path, so the reopened file is always a new inode at that path.
 */
async function waitForNewFile(id: string, logPath: string, before: bigint | undefined): Promise<void> {
  let pause = 2;
  for (let waited = 0; waited < REOPEN_WAIT_MS; waited += pause, pause = Math.min(pause * 2, 50)) {
    const now = await inode(logPath);
    if (now !== undefined && now !== before) return;
    await sleep(pause);
  }
  throw CriError.internal(
    `container "${id}": conmon did not reopen its log file "${logPath}" within ${REOPEN_WAIT_MS / 1000} s`,
  );
}

/**
 * Kills the conmon started as `pid` and everything under it, then waits until
 * none of it runs. conmon double-forks and its daemon calls setsid, so the
 * daemon (pid in `conmonPidFile`) leads a session of its own holding the
 * runtime; the first conmon leads the session we spawned it in.
 */
async function killMonitor(
  pid: number | undefined,
  exited: Promise<void>,
  conmonPidFile: string,
): Promise<void> {
  if (!pid) return;
  const sessions = new Set([pid]);
  const kill = async () => {
    const daemon = Number.parseInt(await readFile(conmonPidFile, "utf8").catch(() => ""), 10);
    if (daemon > 0) sessions.add(daemon);
    const live = await sessionMembers(sessions);
    for (const p of live) {
      try {
        process.kill(p, "SIGKILL");
      } catch {}
    }
    return live.length;
  };
  await kill();
  // The first conmon writes the daemon's pid file before it exits: after its
  // exit the daemon is known (or never existed).
  await Promise.race([exited, sleep(KILL_WAIT_MS)]);
  for (let waited = 0; waited < KILL_WAIT_MS; waited += 50) {
    if ((await kill()) === 0) return;
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Live (non-zombie) processes whose session or process group is one of `ids`. */
async function sessionMembers(ids: Set<number>): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
    // Fields after the parenthesised command: state ppid pgrp session …
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (f[0] === "Z" || f[0] === "X" || f.length < 4) continue;
    if (ids.has(Number(f[2])) || ids.has(Number(f[3]))) out.push(Number(name));
  }
  return out;
}
