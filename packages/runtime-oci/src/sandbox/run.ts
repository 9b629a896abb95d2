/**
 * RunPodSandbox: the infra (catatonit started directly, pinning the pod's netns itself, or an
 * infra container under conmon + runc), the pod files, /dev/shm and CNI ADD, each as early as
 * what it needs allows.
 */
import { copyFile, mkdir, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { PodSandboxNetworkStatus } from "@servin/cri-types";
import { atomicWriteFile } from "@servin/node-kit";
import type { BackendState, SandboxRecord } from "@servin/runtime-core";
import { checkpoint } from "../_cancel.js";
import { prepareMonitorCgroup, removeCgroup } from "../_cgroups.js";
import { Cleanup, type OciContext, paths, runtimeFor } from "../_context.js";
import { killMonitors } from "../_monitor-processes.js";
import { mountShm, removeTree } from "../_mounts.js";
import { resolveSeccomp } from "../_seccomp.js";
import { renderHosts, renderResolvConf } from "../spec/pod-files.js";
import { buildSandboxSpec } from "../spec/sandbox-spec.js";
import { seccompProfileName } from "../spec/seccomp.js";
import { killInfra, launchInfra, sysctlFiles } from "./_infra.js";
import { networkStatus, podRuntimeConfig, usesCni } from "./_network.js";
import { derivedState, infraCgroup, monitorCgroup, type SandboxState } from "./_state.js";

/**
 * Pod files are bind-mounted read-only into containers of any user. Written atomically, not
 * fsynced: they outlive a restart of servin in the page cache, and a host crash ends the pod
 * with them (after a reboot it is NOTREADY, and kubelet makes a new sandbox with new files).
 */
const POD_FILE = { mode: 0o644, sync: false };
/** The bundle lives in the runtime state dir, gone with the containers after a host crash: no fsync (saves ms per create). */
const BUNDLE_FILE = { mode: 0o644, sync: false };

/**
 * A directly started infra begins at once, side by side with the pod files and
 * /dev/shm: it pins the CNI netns itself (`unshare --net=FILE`) and CNI ADD
 * starts the moment it is pinned, while the infra joins its cgroup. An infra
 * container waits for the files and the netns (its spec names them), then
 * starts beside CNI ADD. `signal` is checked between the steps and cuts the
 * waits for the launch, `runtime create` and the plugins short; when it aborts,
 * the infra is killed and every undo step runs before the cancellation error
 * is thrown, so nothing of the pod is left.
 */
export async function runSandbox(
  ctx: OciContext,
  sandbox: SandboxRecord,
  signal?: AbortSignal,
): Promise<{ backendState: BackendState; network?: PodSandboxNetworkStatus }> {
  const what = `run pod sandbox "${sandbox.config.metadata.name}"`;
  checkpoint(signal, what);
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
  // The infra without conmon and runc (_infra.ts): its sysctls are checked before anything is made.
  const direct = state.infra === "process";
  if (direct) sysctlFiles(sandbox.config.linux?.sysctls ?? {}, state.modes);
  const cleanup = new Cleanup(ctx.logger);
  try {
    checkpoint(signal, what);
    // Pod files (persistent: they are bind-mounted into containers that outlive us). Their
    // directory comes first: it marks the pod live for start-up reconcile of the network.
    const data = paths.podData(ctx, id);
    await mkdir(data, { recursive: true });
    cleanup.add("runSandbox: removing pod files", () => rm(data, { recursive: true, force: true }));
    const resolv = renderResolvConf(sandbox.config.dnsConfig);

    const cni = ctx.cni !== undefined && (await usesCni(ctx, state.modes, id)) ? ctx.cni : undefined;
    if (cni) {
      // After a restart, start-up reconcile must not mistake this new pod for a leftover.
      await ctx.cniReconciled;
      checkpoint(signal, what);
      cleanup.add("runSandbox: removing the network namespace", () => cni.removeNetns(id));
    }
    if (state.modes.ipc === "pod")
      cleanup.add("runSandbox: unmounting /dev/shm", () => removeTree(paths.podRun(ctx, id)));
    const bundle = paths.bundle(ctx, id);
    cleanup.add("runSandbox: removing bundle", () => removeTree(bundle));
    // The pod files, an infra container's /dev/shm and its bundle dir depend neither on each other nor
    // on a direct infra. With CNI the hosts file is written once, after ADD, with the pod's IPs.
    const podFiles = () => [
      atomicWriteFile(state.files.hostname, `${state.hostname}\n`, POD_FILE),
      state.modes.network === "node"
        ? copyFile("/etc/hosts", state.files.hosts)
        : cni
          ? undefined
          : atomicWriteFile(state.files.hosts, renderHosts(state.hostname), POD_FILE),
      // No DNS config: the host's resolv.conf, as containerd does.
      resolv === undefined
        ? copyFile("/etc/resolv.conf", state.files.resolvConf).catch(() =>
            atomicWriteFile(state.files.resolvConf, "", POD_FILE),
          )
        : atomicWriteFile(state.files.resolvConf, resolv, POD_FILE),
      // The direct infra's launch mounts it (one spawn from the server fewer).
      state.modes.ipc === "pod" && !direct ? mountShm(state.shmPath) : undefined,
      direct ? undefined : mkdir(join(bundle, "rootfs"), { recursive: true }),
    ];
    // CNI ADD configures the netns while the infra starts: the pause process never looks at the network.
    // With the netns pinned by the infra, setup writes its record while the infra starts.
    const attach = async (netnsReady?: Promise<unknown>): Promise<PodSandboxNetworkStatus | undefined> => {
      if (!cni) return undefined;
      const meta = sandbox.config.metadata;
      const { ips } = await cni.setup({
        id,
        netnsPath: state.netns as string,
        ...(netnsReady ? { netnsReady } : {}),
        pod: { podName: meta.name, podNamespace: meta.namespace ?? "", podUid: meta.uid ?? "" },
        runtimeConfig: podRuntimeConfig(sandbox.config),
        ...(signal ? { signal } : {}),
      });
      // The pod's own name resolves to its IPs, as kubelet's hosts file does.
      await atomicWriteFile(state.files.hosts, renderHosts(state.hostname, ips), POD_FILE);
      return networkStatus(ips);
    };
    // setup() undoes a failed ADD itself; this undoes a completed one, first of all the undo steps.
    const undoAttach = () => {
      if (cni) cleanup.add("runSandbox: tearing down the pod network", () => cni.teardown(id));
    };

    let pid: number;
    let network: PodSandboxNetworkStatus | undefined;
    if (direct) {
      // The netns is pinned by the infra's own first process, or joined when a retry finds it pinned.
      let pin: string | undefined;
      if (cni) {
        const mount = await cni.netnsMountPoint(id);
        state.netns = mount.path;
        if (!mount.pinned) pin = mount.path;
      }
      checkpoint(signal, what);
      let pinned: () => void = () => {};
      let notPinned: (err: unknown) => void = () => {};
      const netnsReady = new Promise<void>((resolve, reject) => {
        pinned = resolve;
        notPinned = reject;
      });
      netnsReady.catch(() => {});
      if (!pin) pinned();
      const infra = startProcessInfra(ctx, sandbox, state, cleanup, signal, pin, pinned)().then(
        (p) => {
          pinned();
          return p;
        },
        (err: unknown) => {
          notPinned(err);
          throw err;
        },
      );
      undoAttach();
      [pid, network] = await settleAll([infra, attach(netnsReady), ...podFiles()]);
    } else {
      const [netns] = await settleAll([cni?.createNetns(id), ...podFiles()]);
      if (netns) state.netns = netns;
      checkpoint(signal, what);
      const startInfra = await prepareRuntimeInfra(ctx, sandbox, state, seccomp.localhost, cleanup, signal);
      undoAttach();
      [pid, network] = await settleAll([startInfra(), attach()]);
    }
    state.pid = pid;
    // The last moment a cancellation can still undo everything: after the return the core owns the pod.
    checkpoint(signal, what);
    return { backendState: { ...state }, ...(network ? { network } : {}) };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/**
 * catatonit started directly in the pod's namespaces and cgroup (_infra.ts), pinning the
 * netns at `pinNetnsPath` when given (`onNetnsPinned` then says when); undone by killing it
 * and removing its cgroups.
 */
function startProcessInfra(
  ctx: OciContext,
  sandbox: SandboxRecord,
  state: SandboxState,
  cleanup: Cleanup,
  signal?: AbortSignal,
  pinNetnsPath?: string,
  onNetnsPinned?: () => void,
): () => Promise<number> {
  const id = sandbox.id;
  const cgroup = infraCgroup(state, id);
  cleanup.add("runSandbox: removing infra cgroup", () =>
    removeCgroup(ctx.cgroupMode, state.ownCgroup ? state.cgroupParent : cgroup),
  );
  cleanup.add("runSandbox: killing the infra", () => killInfra(ctx.cgroupMode, cgroup, id, state.pid));
  return async () => {
    state.pid = await launchInfra({
      id,
      modes: state.modes,
      hostname: state.hostname,
      pausePath: ctx.pausePath,
      cgroupMode: ctx.cgroupMode,
      cgroupsPath: cgroup,
      ...(pinNetnsPath ? { pinNetnsPath } : state.netns ? { netnsPath: state.netns } : {}),
      ...(onNetnsPinned ? { onNetnsPinned } : {}),
      ...(state.modes.ipc === "pod" ? { shmPath: state.shmPath } : {}),
      ...(sandbox.config.linux?.sysctls ? { sysctls: sandbox.config.linux.sysctls } : {}),
      ...(signal ? { signal } : {}),
    });
    return state.pid;
  };
}

/** The infra container's bundle and undo steps; the returned step creates and starts it under conmon + the runtime. */
async function prepareRuntimeInfra(
  ctx: OciContext,
  sandbox: SandboxRecord,
  state: SandboxState,
  localhostSeccomp: Awaited<ReturnType<typeof resolveSeccomp>>["localhost"],
  cleanup: Cleanup,
  signal?: AbortSignal,
): Promise<() => Promise<number>> {
  const id = sandbox.id;
  const what = `run pod sandbox "${sandbox.config.metadata.name}"`;
  const runtime = runtimeFor(ctx, sandbox.runtimeHandler);
  const bundle = paths.bundle(ctx, id);
  const spec = buildSandboxSpec({
    id,
    config: sandbox.config,
    modes: state.modes,
    pausePath: ctx.pausePath,
    hostname: state.hostname,
    cgroupsPath: `${state.cgroupParent}/${id}`,
    nofile: ctx.nofile,
    ...(state.netns ? { netnsPath: state.netns } : {}),
    ...(localhostSeccomp ? { localhostSeccomp } : {}),
  });
  await atomicWriteFile(join(bundle, "config.json"), JSON.stringify(spec, null, 2), BUNDLE_FILE);
  checkpoint(signal, what);

  // Undone in reverse: CNI DEL, conmon, then the infra, and only then its cgroups (a cgroup with a live process stays busy).
  if (state.ownCgroup)
    cleanup.add("runSandbox: removing pod cgroup", () => removeCgroup(ctx.cgroupMode, state.cgroupParent));
  else {
    cleanup.add("runSandbox: removing conmon cgroup", () =>
      removeCgroup(ctx.cgroupMode, monitorCgroup(state)),
    );
    // A runtime create killed half-way leaves a cgroup its delete does not know of.
    cleanup.add("runSandbox: removing infra cgroup", () =>
      removeCgroup(ctx.cgroupMode, `${state.cgroupParent}/${id}`),
    );
  }
  cleanup.add("runSandbox: deleting infra container", () => runtime.delete(id));
  // conmon goes before the runtime delete: killed first, it can report no exit of the deleted infra.
  cleanup.add("runSandbox: killing conmon", async () => {
    await killMonitors(bundle, id);
    await unlink(join(paths.sandboxExitDir(ctx), id)).catch(() => {});
    await unlink(join(paths.socketDir(ctx), id)).catch(() => {});
    ctx.sandboxExits.forget(id);
  });
  const startInfra = async (): Promise<number> => {
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
      ...(signal ? { signal } : {}),
    });
    checkpoint(signal, what);
    await runtime.start(id);
    return pid;
  };
  return startInfra;
}

/**
 * Promise.all that waits for every step to settle before it throws the first
 * failure: an undo step must never race the work it undoes.
 */
async function settleAll<T extends readonly unknown[]>(
  steps: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(steps);
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}
