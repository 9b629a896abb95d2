/** What the backend keeps per pod sandbox, derived again from the record when a create was cut short. */
import { readFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import type { SandboxRecord } from "@servin/runtime-core";
import { type OciContext, paths, runtimeFor } from "../_context.js";
import { type PodNamespaceModes, podNamespaceModes } from "../spec/namespaces.js";
import { PAUSE_IN_CONTAINER } from "../spec/sandbox-spec.js";
import { chooseSeccompProfile } from "../spec/seccomp.js";
import { isLiveProcessInfra } from "./_infra.js";

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
  /** The pod's pinned network namespace when CNI networks it. */
  netns?: string;
  /** "process": catatonit started directly (_infra.ts); absent: an infra container under conmon + the runtime. */
  infra?: "process";
}

/** The infra's cgroup (below the pod's), whichever way it was started. */
export function infraCgroup(state: SandboxState, id: string): string {
  return `${state.cgroupParent}/${id}`;
}

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

/**
 * How a pod's infra runs: catatonit started directly (_infra.ts) unless the pod asks for a seccomp
 * profile, which only the OCI runtime applies — then the infra is a runc container under that profile,
 * as containerd's pause is. A function of the pod's config only (recovery derives the same answer).
 */
export function infraKind(ctx: OciContext, sandbox: SandboxRecord): "process" | "runtime" {
  if (ctx.podInfra !== "process") return "runtime";
  try {
    const choice = chooseSeccompProfile(sandbox.config.linux?.securityContext, "pod");
    return choice.type === "Unconfined" ? "process" : "runtime";
  } catch {
    return "runtime";
  }
}

export function derivedState(ctx: OciContext, sandbox: SandboxRecord): SandboxState {
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
    // Decided by the config alone, so a record cut short is looked for the way its infra was made.
    ...(infraKind(ctx, sandbox) === "process" ? { infra: "process" as const } : {}),
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

/**
 * True when `pid` is still this pod's pause process: its comm is "pause" and it
 * lives in the pod's cgroup (so a recycled pid cannot fool us). Lets
 * PodSandboxStatus — which kubelet calls for every pod, every few seconds —
 * answer without spawning `runc state`.
 */
export async function isLiveInfra(pid: number, sandboxId: string): Promise<boolean> {
  if (!(pid > 0)) return false;
  const [comm, cgroup] = await Promise.all([
    readFile(`/proc/${pid}/comm`, "utf8").catch(() => ""),
    readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => ""),
  ]);
  return comm.trim() === PAUSE_IN_CONTAINER.slice(1) && cgroup.includes(sandboxId);
}

/** True when the pod's infra process runs, without spawning the runtime. */
export function infraAlive(ctx: OciContext, state: SandboxState, id: string): Promise<boolean> {
  return state.infra === "process"
    ? isLiveProcessInfra(state.pid, id, ctx.pausePath)
    : isLiveInfra(state.pid, id);
}

/** The live infra pid, or a FailedPrecondition naming the pod. */
export async function infraPid(ctx: OciContext, sandbox: SandboxRecord): Promise<number> {
  const state = sandboxState(ctx, sandbox);
  if (await infraAlive(ctx, state, sandbox.id)) return state.pid;
  if (state.infra === "process")
    throw CriError.failedPrecondition(
      `sandbox "${sandbox.id}" is not ready: its infra process is not running`,
    );
  const st = await runtimeFor(ctx, state.runtime).state(sandbox.id);
  if (st?.status !== "running" || st.pid <= 0) {
    throw CriError.failedPrecondition(
      `sandbox "${sandbox.id}" is not ready: its infra process is not running`,
    );
  }
  return st.pid;
}
