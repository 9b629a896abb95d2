/** RunPodSandbox: pod files, the netns, /dev/shm, then CNI ADD beside the infra container (catatonit -P under conmon + runc) holding the pod's namespaces. */
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

/** Pod files are bind-mounted read-only into containers of any user, and outlive us with them: fsynced. */
const POD_FILE = { mode: 0o644 };
/** The bundle lives in the runtime state dir, gone with the containers after a host crash: no fsync (saves ms per create). */
const BUNDLE_FILE = { mode: 0o644, sync: false };

/**
 * `signal` is checked between the steps (pod files, netns, /dev/shm, spec
 * write, then CNI ADD beside conmon + runtime create + start) and cuts the
 * wait for `runtime create` and the plugins short; when it aborts, the infra
 * is killed and every undo step runs before the cancellation error is thrown,
 * so nothing of the pod is left.
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
    // The pod files (three fsyncs), the pinned netns, /dev/shm and the bundle dir do not depend on each other.
    const [netns] = await settleAll([
      cni?.createNetns(id),
      atomicWriteFile(state.files.hostname, `${state.hostname}\n`, POD_FILE),
      state.modes.network === "node"
        ? copyFile("/etc/hosts", state.files.hosts)
        : atomicWriteFile(state.files.hosts, renderHosts(state.hostname), POD_FILE),
      // No DNS config: the host's resolv.conf, as containerd does.
      resolv === undefined
        ? copyFile("/etc/resolv.conf", state.files.resolvConf).catch(() =>
            atomicWriteFile(state.files.resolvConf, "", POD_FILE),
          )
        : atomicWriteFile(state.files.resolvConf, resolv, POD_FILE),
      state.modes.ipc === "pod" ? mountShm(state.shmPath) : undefined,
      direct ? undefined : mkdir(join(bundle, "rootfs"), { recursive: true }),
    ]);
    if (netns) state.netns = netns;
    checkpoint(signal, what);

    const startInfra = direct
      ? startProcessInfra(ctx, sandbox, state, cleanup, signal)
      : await prepareRuntimeInfra(ctx, sandbox, state, seccomp.localhost, cleanup, signal);
    // The netns exists (the infra joins it); CNI ADD configures it while the infra starts:
    // the pause process never looks at the network, so the two overlap.
    const attach = async (): Promise<PodSandboxNetworkStatus | undefined> => {
      if (!cni || !state.netns) return undefined;
      const meta = sandbox.config.metadata;
      const { ips } = await cni.setup({
        id,
        netnsPath: state.netns,
        pod: { podName: meta.name, podNamespace: meta.namespace ?? "", podUid: meta.uid ?? "" },
        runtimeConfig: podRuntimeConfig(sandbox.config),
        ...(signal ? { signal } : {}),
      });
      // The pod's own name resolves to its IPs, as kubelet's hosts file does.
      await atomicWriteFile(state.files.hosts, renderHosts(state.hostname, ips), POD_FILE);
      return networkStatus(ips);
    };
    // setup() undoes a failed ADD itself; this undoes a completed one, first of all the undo steps.
    if (cni) cleanup.add("runSandbox: tearing down the pod network", () => cni.teardown(id));
    const [pid, network] = await settleAll([startInfra(), attach()]);
    state.pid = pid;
    // The last moment a cancellation can still undo everything: after the return the core owns the pod.
    checkpoint(signal, what);
    return { backendState: { ...state }, ...(network ? { network } : {}) };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/** catatonit started directly in the pod's namespaces and cgroup (_infra.ts); undone by killing it and removing its cgroups. */
function startProcessInfra(
  ctx: OciContext,
  sandbox: SandboxRecord,
  state: SandboxState,
  cleanup: Cleanup,
  signal?: AbortSignal,
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
      ...(state.netns ? { netnsPath: state.netns } : {}),
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
