/** Pod sandboxes: the infra container (catatonit -P under conmon + runc) holding the pod's namespaces, and its files. */
import { copyFile, mkdir, readFile, rm, unlink } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import type { LinuxPodSandboxStats, PodSandboxNetworkStatus } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import type { BackendState, SandboxObservation, SandboxRecord } from "@servin/runtime-core";
import { prepareMonitorCgroup, readCgroupStats, removeCgroup } from "./_cgroups.js";
import { Cleanup, type OciContext, paths, runtimeFor, runtimeIfKnown } from "./_context.js";
import { writeFileAtomic } from "./_fs.js";
import { mountShm, removeTree, unmountAll } from "./_mounts.js";
import { resolveSeccomp } from "./_seccomp.js";
import { type PodNamespaceModes, podNamespaceModes } from "./spec/namespaces.js";
import { renderHosts, renderResolvConf } from "./spec/pod-files.js";
import { buildSandboxSpec, PAUSE_IN_CONTAINER } from "./spec/sandbox-spec.js";
import { seccompProfileName } from "./spec/seccomp.js";
import { cpuUsage, memoryUsage } from "./stats.js";

/** What the backend keeps per sandbox (inside SandboxRecord.backendState). */
export interface SandboxState {
  version: 1;
  runtime: string;
  /** The infra process, as seen from the host. */
  pid: number;
  modes: PodNamespaceModes;
  hostname: string;
  /** The pod's cgroup (its containers' parent). */
  cgroupParent: string;
  /** True when Servin made the pod cgroup (default parent) and must remove it. */
  ownCgroup: boolean;
  /** Source of the containers' /dev/shm. */
  shmPath: string;
  files: { hosts: string; resolvConf: string; hostname: string };
  /** The infra's seccomp profile: "runtime/default", "unconfined", "localhost/<path>". */
  seccomp?: string;
}

/** How long a pause process gets to exit on SIGTERM before SIGKILL. */
const INFRA_STOP_MS = 5_000;

/** Where the pod's conmon processes live (tracking hierarchies only, see prepareMonitorCgroup). */
export function monitorCgroup(state: SandboxState): string {
  return `${state.cgroupParent}/conmon`;
}

export function sandboxState(ctx: OciContext, sandbox: SandboxRecord): SandboxState {
  const s = sandbox.backendState as Partial<SandboxState>;
  if (s.version === 1 && s.modes && s.files && s.shmPath && s.cgroupParent !== undefined)
    return s as SandboxState;
  // Half-created (the core persisted the record, we never returned): derive what we can.
  return derivedState(ctx, sandbox);
}

function derivedState(ctx: OciContext, sandbox: SandboxRecord): SandboxState {
  const modes = podNamespaceModes(sandbox.config);
  const given = sandbox.config.linux?.cgroupParent;
  const data = paths.podData(ctx, sandbox.id);
  return {
    version: 1,
    runtime: sandbox.runtimeHandler || ctx.defaultRuntime,
    pid: 0,
    modes,
    hostname: podHostname(sandbox, modes),
    cgroupParent: given || `/${ctx.cgroupParent}/pod-${sandbox.id}`,
    ownCgroup: !given,
    shmPath: modes.ipc === "pod" ? join(paths.podRun(ctx, sandbox.id), "shm") : "/dev/shm",
    files: {
      hosts: join(data, "hosts"),
      resolvConf: join(data, "resolv.conf"),
      hostname: join(data, "hostname"),
    },
  };
}

/**
 * A host-network pod keeps the node's UTS namespace and name. Otherwise the
 * config's hostname (checked by the core: at most 64 bytes, RFC 1123), or the
 * node's when none is given, as containerd and CRI-O do — never the pod's
 * name, which may be longer than the kernel's 64-byte limit.
 */
function podHostname(sandbox: SandboxRecord, modes: PodNamespaceModes): string {
  if (modes.network === "node") return osHostname();
  return sandbox.config.hostname || osHostname();
}

export async function runSandbox(
  ctx: OciContext,
  sandbox: SandboxRecord,
): Promise<{ backendState: BackendState; network?: PodSandboxNetworkStatus }> {
  const runtime = runtimeFor(ctx, sandbox.runtimeHandler);
  const seccomp = await resolveSeccomp(
    sandbox.config.linux?.securityContext,
    `sandbox "${sandbox.config.metadata.name}"`,
  );
  const state: SandboxState = {
    ...derivedState(ctx, sandbox),
    runtime: runtime.name,
    seccomp: seccompProfileName(seccomp.choice),
  };
  const id = sandbox.id;
  const cleanup = new Cleanup(ctx.logger);
  try {
    // Pod files (persistent: they are bind-mounted into containers that outlive us).
    const data = paths.podData(ctx, id);
    await mkdir(data, { recursive: true });
    cleanup.add("runSandbox: removing pod files", () => rm(data, { recursive: true, force: true }));
    await writeFileAtomic(state.files.hostname, `${state.hostname}\n`);
    if (state.modes.network === "node") await copyFile("/etc/hosts", state.files.hosts);
    else await writeFileAtomic(state.files.hosts, renderHosts(state.hostname));
    const resolv = renderResolvConf(sandbox.config.dnsConfig);
    // No DNS config: the host's resolv.conf, as containerd does.
    if (resolv === undefined)
      await copyFile("/etc/resolv.conf", state.files.resolvConf).catch(() =>
        writeFileAtomic(state.files.resolvConf, ""),
      );
    else await writeFileAtomic(state.files.resolvConf, resolv);

    if (state.modes.ipc === "pod") {
      cleanup.add("runSandbox: unmounting /dev/shm", () => removeTree(paths.podRun(ctx, id)));
      await mountShm(state.shmPath);
    }

    const bundle = paths.bundle(ctx, id);
    cleanup.add("runSandbox: removing bundle", () => removeTree(bundle));
    await mkdir(join(bundle, "rootfs"), { recursive: true });
    const spec = buildSandboxSpec({
      id,
      config: sandbox.config,
      modes: state.modes,
      pausePath: ctx.pausePath,
      hostname: state.hostname,
      cgroupsPath: `${state.cgroupParent}/${id}`,
      nofile: ctx.nofile,
      ...(seccomp.localhost ? { localhostSeccomp: seccomp.localhost } : {}),
    });
    await writeFileAtomic(join(bundle, "config.json"), JSON.stringify(spec, null, 2));

    cleanup.add("runSandbox: deleting infra container", () => runtime.delete(id));
    if (state.ownCgroup)
      cleanup.add("runSandbox: removing pod cgroup", () => removeCgroup(ctx.cgroupMode, state.cgroupParent));
    if (!state.ownCgroup) {
      cleanup.add("runSandbox: removing conmon cgroup", () =>
        removeCgroup(ctx.cgroupMode, monitorCgroup(state)),
      );
    }
    const { pid } = await ctx.monitor.create({
      cgroupProcs: await prepareMonitorCgroup(ctx.cgroupMode, monitorCgroup(state)),
      id,
      name: `k8s_POD_${sandbox.config.metadata.name}`,
      bundle,
      runtime,
      logPath: "",
      exitDir: paths.sandboxExitDir(ctx),
      pidFile: join(bundle, "pid"),
      conmonPidFile: join(bundle, "conmon.pid"),
      socketDir: paths.socketDir(ctx),
      terminal: false,
      stdin: false,
    });
    await runtime.start(id);
    state.pid = pid;
    return { backendState: { ...state } };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

export async function stopSandbox(ctx: OciContext, sandbox: SandboxRecord): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const id = sandbox.id;
  if (runtime) {
    const st = await runtime.state(id);
    if (st && st.status !== "stopped") {
      // catatonit exits on SIGTERM; SIGKILL if it does not within the grace period.
      await runtime.kill(id, st.status === "created" ? "KILL" : "TERM");
      const exited = await ctx.sandboxExits.wait(id, INFRA_STOP_MS);
      if (!exited && (await runtime.state(id))?.status !== "stopped") {
        await runtime.kill(id, "KILL");
        await ctx.sandboxExits.wait(id, INFRA_STOP_MS);
      }
    }
  }
  // containerd unmounts the pod's shm on stop: nothing can use it any more.
  if (state.modes.ipc === "pod") await unmountAll(state.shmPath);
}

export async function removeSandbox(ctx: OciContext, sandbox: SandboxRecord): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  await stopSandbox(ctx, sandbox);
  const id = sandbox.id;
  await runtimeIfKnown(ctx, state.runtime)?.delete(id);
  await removeTree(paths.bundle(ctx, id));
  await removeTree(paths.podRun(ctx, id));
  await rm(paths.podData(ctx, id), { recursive: true, force: true });
  await unlink(join(paths.sandboxExitDir(ctx), id)).catch(() => {});
  await unlink(join(paths.socketDir(ctx), id)).catch(() => {});
  ctx.sandboxExits.forget(id);
  ctx.cpuSamples.delete(id);
  {
    // Our pod cgroup goes entirely; in a kubelet-owned one only our conmon cgroup.
    const left = await removeCgroup(
      ctx.cgroupMode,
      state.ownCgroup ? state.cgroupParent : monitorCgroup(state),
    );
    if (left.length > 0) ctx.logger.warn(`sandbox "${id}": cgroups still busy: ${left.join(", ")}`);
  }
}

/**
 * True when `pid` is still this pod's pause process: its comm is "pause" and it
 * lives in the pod's cgroup (so a recycled pid cannot fool us). Lets
 * PodSandboxStatus — which kubelet calls for every pod, every few seconds —
 * answer without spawning `runc state`.
 */
async function isLiveInfra(pid: number, sandboxId: string): Promise<boolean> {
  if (!(pid > 0)) return false;
  const [comm, cgroup] = await Promise.all([
    readFile(`/proc/${pid}/comm`, "utf8").catch(() => ""),
    readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => ""),
  ]);
  return comm.trim() === PAUSE_IN_CONTAINER.slice(1) && cgroup.includes(sandboxId);
}

export async function inspectSandbox(ctx: OciContext, sandbox: SandboxRecord): Promise<SandboxObservation> {
  const state = sandboxState(ctx, sandbox);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const live = await isLiveInfra(state.pid, sandbox.id);
  const st = live
    ? { status: "running", pid: state.pid }
    : runtime
      ? await runtime.state(sandbox.id).catch(() => undefined)
      : undefined;
  const ready = st?.status === "running";
  return {
    ready,
    network: {},
    info: {
      pid: st?.pid ?? 0,
      runtime: state.runtime,
      runtimeStatus: st?.status ?? "missing",
      bundle: paths.bundle(ctx, sandbox.id),
      cgroupParent: state.cgroupParent,
      namespaces: state.modes,
      hostname: state.hostname,
      ...(state.seccomp ? { seccomp: state.seccomp } : {}),
      network: "no CNI network configured: isolated network namespace with loopback only",
    },
  };
}

/** The live infra pid, or a FailedPrecondition naming the pod. */
export async function infraPid(ctx: OciContext, sandbox: SandboxRecord): Promise<number> {
  const state = sandboxState(ctx, sandbox);
  if (await isLiveInfra(state.pid, sandbox.id)) return state.pid;
  const st = await runtimeFor(ctx, state.runtime).state(sandbox.id);
  if (st?.status !== "running" || st.pid <= 0) {
    throw CriError.failedPrecondition(
      `sandbox "${sandbox.id}" is not ready: its infra process is not running`,
    );
  }
  return st.pid;
}

export async function sandboxStats(
  ctx: OciContext,
  sandbox: SandboxRecord,
): Promise<Omit<LinuxPodSandboxStats, "containers">> {
  const state = sandboxState(ctx, sandbox);
  const at = nowNanos();
  const sample = await readCgroupStats(ctx.cgroupMode, state.cgroupParent);
  const out: Omit<LinuxPodSandboxStats, "containers"> = {
    cpu: cpuUsage(ctx, sandbox.id, sample, at),
    memory: memoryUsage(sample, at),
  };
  if (sample.pids !== undefined) out.process = { timestamp: at, processCount: { value: sample.pids } };
  const st = await runtimeIfKnown(ctx, state.runtime)
    ?.state(sandbox.id)
    .catch(() => undefined);
  if (st && st.pid > 0 && state.modes.network === "pod") {
    const dev = await readFile(`/proc/${st.pid}/net/dev`, "utf8").catch(() => "");
    const interfaces = parseNetDev(dev).filter((i) => i.name !== "lo");
    const first = interfaces[0];
    out.network = first
      ? { timestamp: at, defaultInterface: first, interfaces }
      : { timestamp: at, interfaces: [] };
  }
  return out;
}

function parseNetDev(text: string) {
  const out: {
    name: string;
    rxBytes: { value: number };
    rxErrors: { value: number };
    txBytes: { value: number };
    txErrors: { value: number };
  }[] = [];
  for (const line of text.split("\n").slice(2)) {
    const [name, rest] = line.split(":");
    if (!name || !rest) continue;
    const f = rest.trim().split(/\s+/).map(Number);
    out.push({
      name: name.trim(),
      rxBytes: { value: f[0] ?? 0 },
      rxErrors: { value: f[2] ?? 0 },
      txBytes: { value: f[8] ?? 0 },
      txErrors: { value: f[10] ?? 0 },
    });
  }
  return out;
}
