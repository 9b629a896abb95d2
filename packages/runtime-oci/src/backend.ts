/** createOciBackend: the Linux RuntimeBackend (conmon + runc/crun), wiring the per-RPC modules together. */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CniNetwork, DEFAULT_BIN_DIRS, DEFAULT_CONF_DIR } from "@servin/cni";
import { type ContainerId, CriError } from "@servin/cri-types";
import { ensurePrivateDir, type Logger, silentLogger } from "@servin/node-kit";
import type { BackendCondition, ContainerExit, RuntimeBackend } from "@servin/runtime-core";
import { toContainerExit } from "./_container-state.js";
import { type OciContext, paths } from "./_context.js";
import { createExitWatcher, type ExitRecord } from "./_exits.js";
import { attachStream } from "./container/attach.js";
import { createContainer } from "./container/create.js";
import { execStream } from "./container/exec.js";
import { execSync } from "./container/exec-sync.js";
import { finishRemovals, removeContainer } from "./container/remove.js";
import { reopenContainerLog } from "./container/reopen-log.js";
import { startContainer } from "./container/start.js";
import { containerStats } from "./container/stats.js";
import { inspectContainer } from "./container/status.js";
import { stopContainer } from "./container/stop.js";
import { updateContainerResources } from "./container/update.js";
import { defaultRuntimes, detectOciHost } from "./host.js";
import { createConmonMonitor, type Monitor } from "./monitor.js";
import { createRuncRuntime, type OciRuntime } from "./oci-runtime.js";
import { infraTools } from "./sandbox/_infra.js";
import { reconcilePodNetworks } from "./sandbox/_network.js";
import { removalsRunning, resumeRemovals, settleRemovals, tombstoneDir } from "./sandbox/_removals.js";
import { portForwardStream } from "./sandbox/port-forward.js";
import { removeSandbox } from "./sandbox/remove.js";
import { runSandbox } from "./sandbox/run.js";
import { sandboxStats } from "./sandbox/stats.js";
import { inspectSandbox } from "./sandbox/status.js";
import { stopSandbox } from "./sandbox/stop.js";

export interface OciBackendOptions {
  /** Persistent data: `<root>/containers/<id>/` (writable layers), `<root>/sandboxes/<id>/` (pod files). */
  root: string;
  /** Runtime state: bundles, exit files, conmon pid files, sockets, the runtimes' `--root`. */
  stateDir: string;
  /** Handler name → OCI runtime binary. Default: runc, plus crun when installed. */
  runtimes?: Record<string, { path: string; root?: string }>;
  /** Handler used for runtime_handler "" (default "runc"). */
  defaultRuntime?: string;
  /** Default: conmon found on PATH. */
  conmonPath?: string;
  /** The pod infra binary, run with -P. Default: catatonit found on PATH. */
  pausePath?: string;
  /**
   * How pod infras start: "process" (default when nsenter, unshare, setpriv and busybox are
   * there) runs catatonit directly in the pod's namespaces; "runtime" runs it as a container
   * under conmon + the pod's runtime handler.
   */
  podInfra?: "process" | "runtime";
  /** cgroupfs parent of pods without a kubelet cgroup parent (default "servin"). */
  cgroupParent?: string;
  /**
   * Pod networking through CNI. Absent: pods get an isolated network
   * namespace with loopback only and NetworkReady is false.
   */
  cni?: {
    /** Default /etc/cni/net.d. */
    confDir?: string;
    /** Default /opt/cni/bin then /usr/lib/cni. */
    binDirs?: readonly string[];
    /** Attachment records and cached results, persistent like host-local's allocations. Default `<root>/cni`. */
    cacheDir?: string;
    /** Pinned network namespaces. Default `<stateDir>/netns`. */
    netnsDir?: string;
  };
  logger?: Logger;
  /** Seams for tests: replace the runtime CLI driver or the monitor. */
  createRuntime?: (opts: { name: string; path: string; root: string }) => OciRuntime;
  monitor?: Monitor;
}

/** Our RLIMIT_NOFILE hard limit: without CAP_SYS_RESOURCE a container cannot be given more. */
async function nofileLimit(): Promise<number> {
  const limits = await readFile("/proc/self/limits", "utf8").catch(() => "");
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const hard = m?.[2] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m?.[2] ?? 1024);
  const nrOpen = Number((await readFile("/proc/sys/fs/nr_open", "utf8").catch(() => "1048576")).trim());
  return Math.min(hard, nrOpen, 1_048_576);
}

/**
 * @example
 * import { createOciBackend } from "@servin/runtime-oci";
 * const backend = await createOciBackend({ root: "/var/lib/servin", stateDir: "/run/servin" });
 * console.log(await backend.conditions());
 * await backend.close();
 */
export async function createOciBackend(opts: OciBackendOptions): Promise<RuntimeBackend> {
  const logger = opts.logger ?? silentLogger;
  const configured = opts.runtimes ?? defaultRuntimes();
  const defaultRuntime = opts.defaultRuntime ?? "runc";
  const host = await detectOciHost({
    runtimes: configured,
    defaultRuntime,
    ...(opts.conmonPath ? { conmonPath: opts.conmonPath } : {}),
    ...(opts.pausePath ? { pausePath: opts.pausePath } : {}),
  });
  const fatal = host.problems.filter((p) => !p.startsWith("default runtime handler"));
  if (fatal.length > 0 && !opts.monitor) {
    throw CriError.failedPrecondition(`the OCI backend cannot run on this host: ${fatal.join("; ")}`);
  }

  const ctxBase = { root: opts.root, stateDir: opts.stateDir } as OciContext;
  for (const dir of [opts.root, opts.stateDir]) await mkdir(dir, { recursive: true, mode: 0o711 });
  // Writable layers, mounted rootfses and bundles hold container files with
  // their own modes (setuid binaries a container wrote, device nodes): only
  // root may reach them, as containerd keeps its task and CRI dirs 0700.
  // Containers running as other users are unaffected: runc mounts and
  // pivot_roots as root, so the paths leading to a rootfs never matter to them.
  for (const dir of [
    join(opts.root, "containers"),
    join(opts.root, "sandboxes"),
    join(opts.stateDir, "bundles"),
    join(opts.stateDir, "sandboxes"),
    join(opts.stateDir, "runtime"),
    paths.exitDir(ctxBase),
    paths.sandboxExitDir(ctxBase),
    paths.socketDir(ctxBase),
    tombstoneDir(ctxBase),
  ]) {
    await ensurePrivateDir(dir, logger);
  }
  const makeRuntime = opts.createRuntime ?? createRuncRuntime;
  const runtimes = new Map<string, OciRuntime>();
  const runtimeProblems = new Map<string, string>();
  for (const [name, r] of Object.entries(configured)) {
    const root = r.root ?? paths.runtimeRoot(ctxBase, name);
    await mkdir(root, { recursive: true, mode: 0o700 });
    runtimes.set(name, makeRuntime({ name, path: r.path, root }));
    const info = host.runtimes.find((x) => x.name === name);
    if (info?.problem) runtimeProblems.set(name, info.problem);
  }

  const ctx: OciContext = {
    root: opts.root,
    stateDir: opts.stateDir,
    runtimes,
    runtimeProblems,
    defaultRuntime,
    monitor: opts.monitor ?? createConmonMonitor({ path: host.conmonPath ?? "/usr/bin/conmon" }),
    exits: await createExitWatcher(paths.exitDir(ctxBase)),
    sandboxExits: await createExitWatcher(paths.sandboxExitDir(ctxBase)),
    cgroupMode: host.cgroupMode,
    cgroupParent: (opts.cgroupParent ?? "servin").replace(/^\/+|\/+$/g, ""),
    pausePath: host.pausePath ?? "/usr/bin/catatonit",
    podInfra: opts.podInfra ?? (infraTools() ? "process" : "runtime"),
    nofile: await nofileLimit(),
    logger,
    cpuSamples: new Map(),
    cniReconciled: Promise.resolve(),
    removals: new Map(),
  };
  // Removals a crash interrupted: finished in the background, the API answers at once.
  const crashRemovals = finishRemovals(ctx).catch((err: unknown) =>
    logger.error(`finishing the removals a restart interrupted failed: ${(err as Error).message}`),
  );
  if (opts.cni) {
    const cni = new CniNetwork({
      confDir: opts.cni.confDir ?? DEFAULT_CONF_DIR,
      binDirs: opts.cni.binDirs ?? DEFAULT_BIN_DIRS,
      cacheDir: opts.cni.cacheDir ?? join(opts.root, "cni"),
      netnsDir: opts.cni.netnsDir ?? join(opts.stateDir, "netns"),
      logger,
    });
    await cni.start();
    ctx.cni = cni;
    // DELs of a crash's leftovers take ~0.1 s each: in the background, so the API answers at once.
    ctx.cniReconciled = reconcilePodNetworks(ctx);
  }
  // Removals a crash cut short (RemovePodSandbox answers before its cleanup is done), each after the
  // container removals above.
  await resumeRemovals(ctx, crashRemovals);

  // Exits are reported once StartContainer has returned, so the core never
  // sees an exit for a container it still believes is being started.
  const listeners = new Set<(id: ContainerId, exit: ContainerExit) => void>();
  const starting = new Map<string, ExitRecord[]>();
  const emit = async (record: ExitRecord) => {
    const exit = await toContainerExit(ctx, record);
    for (const l of listeners) {
      try {
        l(record.id as ContainerId, exit);
      } catch (err) {
        logger.error(`onContainerExit listener failed: ${(err as Error).message}`);
      }
    }
  };
  ctx.exits.on((record) => {
    const queued = starting.get(record.id);
    if (queued) queued.push(record);
    else void emit(record);
  });

  return {
    name: "oci",

    async conditions() {
      const problem = runtimeProblems.get(defaultRuntime);
      const runtime: BackendCondition = problem
        ? {
            ready: false,
            reason: "RuntimeHandlerUnusable",
            message: `default runtime "${defaultRuntime}": ${problem}`,
          }
        : !runtimes.has(defaultRuntime)
          ? {
              ready: false,
              reason: "RuntimeHandlerMissing",
              message: `default runtime "${defaultRuntime}" is not configured`,
            }
          : {
              ready: true,
              reason: "RuntimeIsReady",
              message: [
                `conmon + ${defaultRuntime}, cgroups ${ctx.cgroupMode}`,
                ...[...runtimeProblems].map(([n, p]) => `handler "${n}" unusable: ${p}`),
              ].join("; "),
            };
      return { runtime, network: networkCondition(ctx) };
    },

    handlers: () => [...runtimes.keys()],

    runSandbox: (sandbox, signal) => runSandbox(ctx, sandbox, signal),
    stopSandbox: (sandbox, signal) => stopSandbox(ctx, sandbox, signal),
    // Its containers' cleanups still hold cgroups inside the pod's: its own cleanup, in the background
    // like theirs, waits for them, not the answer.
    removeSandbox: (sandbox, signal) => removeSandbox(ctx, sandbox, signal),
    inspectSandbox: (sandbox) => inspectSandbox(ctx, sandbox),

    createContainer: (container, sandbox, signal) => createContainer(ctx, container, sandbox, signal),
    async startContainer(container, sandbox, signal) {
      starting.set(container.id, []);
      try {
        return await startContainer(ctx, container, sandbox, signal);
      } finally {
        const queued = starting.get(container.id) ?? [];
        starting.delete(container.id);
        for (const record of queued) void emit(record);
      }
    },
    stopContainer: (container, timeoutSeconds, signal) =>
      stopContainer(ctx, container, timeoutSeconds, signal),
    removeContainer: (container, _sandbox, signal) => removeContainer(ctx, container, signal),
    inspectContainer: (container) => inspectContainer(ctx, container),

    execSync: (container, cmd, timeoutSeconds, signal) =>
      execSync(ctx, container, cmd, timeoutSeconds, signal),
    updateContainerResources: (container, resources) => updateContainerResources(ctx, container, resources),
    reopenContainerLog: (container) => reopenContainerLog(ctx, container),
    containerStats: (container) => containerStats(ctx, container),
    sandboxStats: (sandbox) => sandboxStats(ctx, sandbox),

    streaming: {
      exec: (container, spec, io) => execStream(ctx, container, spec, io),
      attach: (container, spec, io) => attachStream(ctx, container, spec, io),
      portForward: (sandbox, port, stream, signal) => portForwardStream(ctx, sandbox, port, stream, signal),
    },

    onContainerExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async settled() {
      // A crash's container tombstones, then whatever removal runs now (pods', and the core's recovery cleanups).
      await crashRemovals;
      await Promise.all([...[...ctx.removals.values()].map((r) => r.done), removalsRunning(ctx)]);
    },

    async close() {
      // Containers and their conmons keep running: they outlive the server by design.
      await settleRemovals(ctx);
      // Container removals under way finish first (a crash leaves their tombstones to the next start).
      await Promise.all([...ctx.removals.values()].map((r) => r.done));
      ctx.exits.close();
      ctx.sandboxExits.close();
      ctx.cni?.close();
      listeners.clear();
    },
  };
}

/** NetworkReady as the CNI config watcher sees it now, with the network's name and plugins. */
function networkCondition(ctx: OciContext): BackendCondition {
  if (!ctx.cni)
    return {
      ready: false,
      reason: "NetworkPluginNotReady",
      message:
        "Network plugin returns error: no CNI network configured (pods get an isolated network namespace with loopback only)",
    };
  const s = ctx.cni.status();
  const net = s.network;
  const info = net
    ? { network: { name: net.name, cniVersion: net.cniVersion, file: net.file, plugins: net.plugins } }
    : {};
  if (s.ready && net)
    return {
      ready: true,
      reason: "",
      message: `cni network "${net.name}" (${net.plugins.join(", ")}) from ${net.file}`,
      info: { ...info, confDir: ctx.cni.confDir, binDirs: ctx.cni.binDirs },
    };
  return {
    ready: false,
    reason: s.reason || "NetworkPluginNotReady",
    message: `Network plugin returns error: ${s.message}`,
    info: { ...info, confDir: ctx.cni.confDir, binDirs: ctx.cni.binDirs },
  };
}
