/** The memory RuntimeBackend: simulated pods and containers with deterministic, documented behaviour. */
import type {
  ContainerId,
  ExecSyncResponse,
  LinuxContainerResources,
  SandboxId,
  UnixNanos,
  WindowsContainerResources,
} from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import type {
  BackendCondition,
  ContainerExit,
  ContainerRecord,
  ObservedContainer,
  RuntimeBackend,
  SandboxObservation,
  SandboxRecord,
} from "../backend.js";
import { containerArgv, selfExitCode, signalNumber, simulateExec } from "./_simulate.js";

/** Backend operations that tests can hold (to simulate a slow create) or fail once. */
export type MemoryBackendOperation =
  | "runSandbox"
  | "createContainer"
  | "startContainer"
  | "stopContainer"
  | "removeContainer";

export interface MemoryBackendOptions {
  /** Override the conditions (e.g. to test a runtime that is not ready). */
  conditions?: { runtime?: BackendCondition; network?: BackendCondition };
  /** Extra runtime handler names accepted besides "" (default none). */
  handlers?: string[];
}

interface SimSandbox {
  ready: boolean;
}
interface SimContainer {
  sandboxId: SandboxId;
  state: "created" | "running" | "exited";
  argv: string[];
  stopSignal: number;
  startedAt?: UnixNanos;
  exit?: ContainerExit;
  resources?: { linux?: LinuxContainerResources; windows?: WindowsContainerResources };
}

/** The memory backend plus hooks that simulate what an operating system would do on its own. */
export interface MemoryBackend extends RuntimeBackend {
  /** The simulated process exits by itself with `exitCode` (reported through onContainerExit). */
  simulateExit(id: ContainerId, exitCode: number, reason?: string): void;
  /** The container vanishes from the "OS" (as after a reboot): inspect reports it unknown. */
  simulateVanish(id: ContainerId): void;
  /** The pod's infra dies: inspectSandbox reports it not ready. */
  simulateSandboxDeath(id: SandboxId): void;
  /**
   * The next call of `op` waits until the returned function is called (or its
   * signal aborts); called with an error, the held call fails with it.
   */
  hold(op: MemoryBackendOperation): (error?: Error) => void;
  /** The next call of `op` fails with `error`. */
  failNext(op: MemoryBackendOperation, error: Error): void;
  /** IDs the simulated OS currently has (for leak checks). */
  sandboxIds(): SandboxId[];
  containerIds(): ContainerId[];
}

const RUNTIME_READY: BackendCondition = {
  ready: true,
  reason: "RuntimeIsReady",
  message: "memory backend: simulated containers (no processes are run)",
};
/** A fixed fake network, so a kubelet over the memory backend sees a Ready node (pods get no IP). */
const NETWORK_READY: BackendCondition = {
  ready: true,
  reason: "",
  message: 'memory backend: simulated network "memory" (pods get no IP)',
  info: { network: { name: "memory", cniVersion: "1.0.0", file: "", plugins: [] } },
};

/**
 * Creates the memory backend. Its behaviour, all deterministic:
 * - A started container runs until stopped, unless its argv ends by itself
 *   (`true` → 0, `false` → 1, `echo …` → 0, `sh -c "exit N"` → N), which is
 *   reported through onContainerExit right after StartContainer returns.
 * - StopContainer models a process without signal handlers: it dies of the
 *   first signal it gets. timeout > 0: the stop signal (config, else image,
 *   else SIGTERM) → exit 128+signal (143 for SIGTERM); timeout 0: SIGKILL →
 *   137. Reason "Error" (non-zero), as kubelet would see from runc.
 * - ExecSync: see `simulateExec` (echo / true / false / sh -c "exit N";
 *   anything else Unimplemented).
 * - Stats are zero (simulated containers use nothing); logs are not written,
 *   so ReopenContainerLog has nothing to do and succeeds.
 * - RuntimeReady true; NetworkReady true over a fixed fake network "memory"
 *   (simulated pods get no IP).
 * - close() only drops listeners: the simulated containers outlive the
 *   server, so a new service over the same backend sees them (restart tests).
 *
 * @example
 * const backend = createMemoryBackend();
 * const runtime = await createRuntimeService({ backend, images, store: createMemoryStore() });
 */
export function createMemoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  const sandboxes = new Map<SandboxId, SimSandbox>();
  const containers = new Map<ContainerId, SimContainer>();
  const listeners = new Set<(id: ContainerId, exit: ContainerExit) => void>();
  const holds = new Map<MemoryBackendOperation, Array<Promise<Error | undefined>>>();
  const failures = new Map<MemoryBackendOperation, Error>();

  const gate = async (op: MemoryBackendOperation, signal?: AbortSignal) => {
    const failure = failures.get(op);
    if (failure) {
      failures.delete(op);
      throw failure;
    }
    const held = holds.get(op)?.shift();
    if (held === undefined) return;
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new CriError("Aborted", `memory backend: ${op} aborted`));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      held.then((error) => {
        signal?.removeEventListener("abort", onAbort);
        if (error) reject(error);
        else resolve();
      });
    });
  };

  const finish = (id: ContainerId, c: SimContainer, exitCode: number, reason?: string) => {
    const exit: ContainerExit = {
      exitCode,
      finishedAt: nowNanos(),
      reason: reason ?? (exitCode === 0 ? "Completed" : "Error"),
    };
    c.state = "exited";
    c.exit = exit;
    for (const l of listeners) l(id, exit);
    return exit;
  };

  const mustGet = (id: ContainerId): SimContainer => {
    const c = containers.get(id);
    if (!c) throw CriError.notFound(`memory backend: container "${id}" does not exist`);
    return c;
  };

  return {
    name: "memory",
    async conditions() {
      return {
        runtime: options.conditions?.runtime ?? RUNTIME_READY,
        network: options.conditions?.network ?? NETWORK_READY,
      };
    },
    handlers() {
      return ["", ...(options.handlers ?? [])];
    },

    async runSandbox(sandbox: SandboxRecord, signal?: AbortSignal) {
      await gate("runSandbox", signal);
      sandboxes.set(sandbox.id, { ready: true });
      return { backendState: { simulated: true } };
    },
    async stopSandbox(sandbox) {
      const s = sandboxes.get(sandbox.id);
      if (s) s.ready = false;
    },
    async removeSandbox(sandbox) {
      sandboxes.delete(sandbox.id);
    },
    async inspectSandbox(sandbox): Promise<SandboxObservation> {
      const s = sandboxes.get(sandbox.id);
      return { ready: s?.ready ?? false, info: { simulated: true, exists: s !== undefined } };
    },

    async createContainer(container: ContainerRecord, sandbox: SandboxRecord, signal?: AbortSignal) {
      await gate("createContainer", signal);
      if (!sandboxes.get(sandbox.id)?.ready) {
        throw CriError.failedPrecondition(`memory backend: pod sandbox "${sandbox.id}" is not running`);
      }
      containers.set(container.id, {
        sandboxId: sandbox.id,
        state: "created",
        argv: containerArgv(container.config, container.image),
        stopSignal: signalNumber(container.config.stopSignal ?? container.image.config.stopSignal),
      });
      return { backendState: { simulated: true, argv: containerArgv(container.config, container.image) } };
    },
    async startContainer(container) {
      await gate("startContainer");
      const c = mustGet(container.id);
      if (c.state !== "created") {
        throw CriError.failedPrecondition(`memory backend: container "${container.id}" is ${c.state}`);
      }
      c.state = "running";
      c.startedAt = nowNanos();
      const code = selfExitCode(c.argv);
      // The process "runs" after start returns, as a real one would: its exit is reported asynchronously.
      if (code !== undefined) setImmediate(() => c.state === "running" && finish(container.id, c, code));
      return { startedAt: c.startedAt };
    },
    async stopContainer(container, timeoutSeconds) {
      await gate("stopContainer");
      const c = containers.get(container.id);
      if (!c) return undefined;
      if (c.state === "exited") return c.exit;
      if (c.state === "created") return undefined;
      const signal = timeoutSeconds > 0 ? c.stopSignal : 9;
      return finish(container.id, c, 128 + signal);
    },
    async removeContainer(container, _sandbox, signal) {
      await gate("removeContainer", signal);
      containers.delete(container.id);
    },
    async inspectContainer(container): Promise<ObservedContainer> {
      const c = containers.get(container.id);
      if (!c) return { state: "unknown", message: `memory backend has no container "${container.id}"` };
      if (c.state === "created") return { state: "created" };
      if (c.state === "running")
        return { state: "running", ...(c.startedAt ? { startedAt: c.startedAt } : {}) };
      return { state: "exited", exit: c.exit!, ...(c.startedAt ? { startedAt: c.startedAt } : {}) };
    },

    async execSync(container, cmd, _timeoutSeconds, signal): Promise<ExecSyncResponse> {
      const c = mustGet(container.id);
      if (c.state !== "running") {
        throw CriError.failedPrecondition(`memory backend: container "${container.id}" is not running`);
      }
      if (signal?.aborted) throw new CriError("DeadlineExceeded", "execSync: cancelled");
      return simulateExec(cmd);
    },
    async updateContainerResources(container, resources) {
      mustGet(container.id).resources = resources;
    },
    async reopenContainerLog(container) {
      mustGet(container.id);
    },
    async containerStats(container) {
      mustGet(container.id);
      const timestamp = nowNanos();
      return {
        cpu: { timestamp, usageCoreNanoSeconds: { value: 0 }, usageNanoCores: { value: 0 } },
        memory: { timestamp, workingSetBytes: { value: 0 }, usageBytes: { value: 0 } },
        writableLayer: { timestamp, usedBytes: { value: 0 }, inodesUsed: { value: 0 } },
      };
    },
    async sandboxStats(sandbox) {
      const timestamp = nowNanos();
      let running = 0;
      for (const c of containers.values()) if (c.sandboxId === sandbox.id && c.state === "running") running++;
      return {
        cpu: { timestamp, usageCoreNanoSeconds: { value: 0 }, usageNanoCores: { value: 0 } },
        memory: { timestamp, workingSetBytes: { value: 0 }, usageBytes: { value: 0 } },
        process: { timestamp, processCount: { value: running } },
      };
    },

    onContainerExit(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },

    simulateExit(id, exitCode, reason) {
      const c = mustGet(id);
      if (c.state !== "running") throw new Error(`memory backend: container "${id}" is not running`);
      finish(id, c, exitCode, reason);
    },
    simulateVanish(id) {
      containers.delete(id);
    },
    simulateSandboxDeath(id) {
      const s = sandboxes.get(id);
      if (s) s.ready = false;
      for (const [cid, c] of containers) {
        if (c.sandboxId === id && c.state === "running") finish(cid, c, 137);
      }
    },
    hold(op) {
      let release!: (error?: Error) => void;
      const released = new Promise<Error | undefined>((resolve) => {
        release = resolve;
      });
      const queue = holds.get(op) ?? [];
      queue.push(released);
      holds.set(op, queue);
      return release;
    },
    failNext(op, error) {
      failures.set(op, error);
    },
    sandboxIds() {
      return [...sandboxes.keys()];
    },
    containerIds() {
      return [...containers.keys()];
    },
  };
}
