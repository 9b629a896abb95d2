/**
 * The seam between the CRI state machine (this package) and the operating
 * system. runtime-core owns metadata, names, IDs, state and persistence; a
 * RuntimeBackend owns processes, namespaces, mounts, cgroups and logs.
 *
 * Contract:
 * - The core persists a record before it asks the backend to create anything,
 *   so a crash mid-create can always be cleaned up on the next start.
 * - Every backend method that removes or stops is idempotent: calling it on
 *   something half-created or already gone succeeds.
 * - `backendState` is an opaque, JSON-serialisable bag the backend returns
 *   (pid, bundle path, netns path, …); the core persists it inside the record
 *   and hands it back on every later call, including after a restart.
 * - Exits the backend notices by itself (conmon exit files, process death) are
 *   reported through `onContainerExit`; the core never polls a container into shape.
 * - Every method that can wait (create, run, start, stop, remove, exec) takes
 *   an optional `signal`: the core's lifetime signal (aborted by close()),
 *   combined with the caller's own where the call has one. When it aborts the
 *   method stops waiting at once and rejects with the signal's CriError reason
 *   (the service closing: Unavailable), else DeadlineExceeded. It leaves the
 *   OS truthful and retryable: a create undoes itself; a stop leaves what it
 *   already sent sent (the process may still be exiting; its exit is reported
 *   through `onContainerExit` later, and a later stop finishes the job); a
 *   remove has either completed or left the object removable by a retry.
 */
import type { Duplex, Readable, Writable } from "node:stream";
import type {
  ContainerConfig,
  ContainerId,
  ContainerStats,
  ExecSyncResponse,
  LinuxContainerResources,
  LinuxPodSandboxStats,
  PodSandboxConfig,
  PodSandboxNetworkStatus,
  RuntimeConfig,
  RuntimeImage,
  SandboxId,
  UnixNanos,
  WindowsContainerResources,
} from "@servin/cri-types";

/** Opaque, JSON-serialisable state a backend keeps per sandbox or container. */
export type BackendState = Record<string, unknown>;

/** The immutable description of a pod sandbox, as persisted by the core. */
export interface SandboxRecord {
  id: SandboxId;
  config: PodSandboxConfig;
  /** "" selects the backend's default handler. */
  runtimeHandler: string;
  createdAt: UnixNanos;
  backendState: BackendState;
}

/** The immutable description of a container, as persisted by the core. */
export interface ContainerRecord {
  id: ContainerId;
  sandboxId: SandboxId;
  config: ContainerConfig;
  /** The image as resolved at create time (config, layers, ID, ref). */
  image: RuntimeImage;
  /** Absolute path of the CRI log file (sandbox log_directory + config.log_path), or "" for none. */
  logPath: string;
  createdAt: UnixNanos;
  backendState: BackendState;
}

/** How a container's process ended. */
export interface ContainerExit {
  exitCode: number;
  finishedAt: UnixNanos;
  /** CRI reason: "Completed" (0), "Error" (non-zero), "OOMKilled". */
  reason: string;
  message?: string;
}

/** What the OS says about a container right now. */
export type ObservedContainer =
  | { state: "created" }
  | { state: "running"; pid?: number; startedAt?: UnixNanos }
  | { state: "exited"; exit: ContainerExit; startedAt?: UnixNanos }
  /** The backend cannot find it at all (e.g. runc state gone after a reboot). */
  | { state: "unknown"; message: string };

export interface BackendCondition {
  ready: boolean;
  /** CamelCase reason, e.g. "RuntimeIsReady", "NetworkPluginNotReady". */
  reason: string;
  message: string;
  /** Extra facts for Status verbose info (the network: its name and plugins, the CNI dirs). */
  info?: Record<string, unknown>;
}

export interface SandboxObservation {
  /** True while the pod's infra (namespaces, pause process) is alive. */
  ready: boolean;
  network?: PodSandboxNetworkStatus;
  /** For PodSandboxStatus verbose info (pid, bundle, runtime…). */
  info?: Record<string, unknown>;
}

export interface RuntimeBackend {
  /** "memory", "oci", … */
  readonly name: string;

  /** RuntimeReady and NetworkReady, truthfully, as this backend sees them now. */
  conditions(): Promise<{ runtime: BackendCondition; network: BackendCondition }>;
  /** Runtime handler names accepted in RunPodSandbox.runtime_handler ("" is always the default). */
  handlers(): string[];

  runSandbox(
    sandbox: SandboxRecord,
    signal?: AbortSignal,
  ): Promise<{ backendState: BackendState; network?: PodSandboxNetworkStatus }>;
  /**
   * Stops the infra. The core stops the pod's containers before calling this.
   * Idempotent. Aborted by `signal`: rejects at once; the infra may still be
   * exiting and a later stop finishes it.
   */
  stopSandbox(sandbox: SandboxRecord, signal?: AbortSignal): Promise<void>;
  /**
   * Removes everything the backend made for the pod. Idempotent. Aborted by
   * `signal`: rejects at once, leaving a pod a later removal finishes.
   */
  removeSandbox(sandbox: SandboxRecord, signal?: AbortSignal): Promise<void>;
  inspectSandbox(sandbox: SandboxRecord): Promise<SandboxObservation>;

  /** Builds the container (bundle, rootfs) without starting its process. */
  createContainer(
    container: ContainerRecord,
    sandbox: SandboxRecord,
    signal?: AbortSignal,
  ): Promise<{ backendState: BackendState }>;
  /**
   * Starts the created container's process. Aborted by `signal` before the
   * process was started, it rejects and the container stays created.
   */
  startContainer(
    container: ContainerRecord,
    sandbox: SandboxRecord,
    signal?: AbortSignal,
  ): Promise<{ startedAt: UnixNanos; backendState?: BackendState }>;
  /**
   * Sends the stop signal (config.stopSignal, else the image's, else SIGTERM),
   * waits `timeoutSeconds`, then SIGKILL. Resolves once the process is gone;
   * the exit is also reported through onContainerExit. Idempotent.
   * Aborted by `signal` mid-wait, it rejects at once and sends nothing more:
   * the process may still be exiting (its exit is reported through
   * onContainerExit when it comes) and a later stop finishes the job.
   */
  stopContainer(
    container: ContainerRecord,
    timeoutSeconds: number,
    signal?: AbortSignal,
  ): Promise<ContainerExit | undefined>;
  /**
   * Removes everything on disk and in the OS for the container (stopping it
   * first if needed). Idempotent. Aborted by `signal`, it rejects having
   * either completed or left a container a later removal finishes.
   */
  removeContainer(
    container: ContainerRecord,
    sandbox: SandboxRecord | undefined,
    signal?: AbortSignal,
  ): Promise<void>;
  inspectContainer(container: ContainerRecord): Promise<ObservedContainer>;

  execSync(
    container: ContainerRecord,
    cmd: string[],
    timeoutSeconds: number,
    signal?: AbortSignal,
  ): Promise<ExecSyncResponse>;
  updateContainerResources(
    container: ContainerRecord,
    resources: { linux?: LinuxContainerResources; windows?: WindowsContainerResources },
  ): Promise<void>;
  reopenContainerLog(container: ContainerRecord): Promise<void>;
  containerStats(container: ContainerRecord): Promise<Omit<ContainerStats, "attributes">>;
  sandboxStats(sandbox: SandboxRecord): Promise<Omit<LinuxPodSandboxStats, "containers">>;

  /**
   * Optional: receives UpdateRuntimeConfig (kubelet sends the node's pod CIDR
   * at start), e.g. to configure CNI IPAM. Backends without networking omit it.
   */
  updateRuntimeConfig?(config: RuntimeConfig): Promise<void>;

  /** Optional: interactive sessions (Exec, Attach, PortForward) for the streaming server. Absent: those RPCs stay Unimplemented. */
  streaming?: BackendStreaming;

  /** Subscribes to exits the backend notices by itself. Returns an unsubscribe function. */
  onContainerExit(listener: (id: ContainerId, exit: ContainerExit) => void): () => void;

  /**
   * Resolves once the cleanup work under way now has finished (removals a crash
   * left and those the backend runs in the background after answering); work
   * started later is not waited for. Startup recovery awaits it before it
   * reports itself done, so "recovered" means nothing left over is still being
   * removed. Optional: a backend that cleans up synchronously has none.
   */
  settled?(): Promise<void>;

  /** Releases watchers and handles; never stops running containers (they outlive the server). */
  close(): Promise<void>;
}

/** A container config reduced to what decides its process, for backends. */
export type ProcessConfig = Pick<
  ContainerConfig,
  "command" | "args" | "envs" | "workingDir" | "tty" | "stdin"
>;

/** A terminal size as the client's resize stream carries it. */
export interface StreamTerminalSize {
  width: number;
  height: number;
}

/**
 * One Exec or Attach session's streams (the shape of @servin/streaming's SessionIo): null when not
 * asked for. The backend writes to stdout/stderr but never ends them; on `signal` it ends what it started.
 */
export interface StreamSessionIo {
  stdin: Readable | null;
  stdout: Writable | null;
  stderr: Writable | null;
  resize: AsyncIterable<StreamTerminalSize> | null;
  signal: AbortSignal;
}

/** What a backend does for the streaming server, on records the core has resolved and checked. */
export interface BackendStreaming {
  /** Runs `cmd` in the running container; resolves with its exit code once its output was written. */
  exec(
    container: ContainerRecord,
    spec: { cmd: readonly string[]; tty: boolean; initialSize?: StreamTerminalSize },
    io: StreamSessionIo,
  ): Promise<{ exitCode: number }>;
  /** Connects to the running container's stdio until the container or the session ends. */
  attach(
    container: ContainerRecord,
    spec: { tty: boolean; initialSize?: StreamTerminalSize },
    io: StreamSessionIo,
  ): Promise<void>;
  /** Carries one connection to `port` in the pod's network namespace (half-close passed on). */
  portForward(sandbox: SandboxRecord, port: number, stream: Duplex, signal: AbortSignal): Promise<void>;
}
