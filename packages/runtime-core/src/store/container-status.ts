/**
 * The mutable half of a container: timestamps, exit, unknown flag, updated
 * resources. The CRI state is DERIVED from these, never stored, so a status
 * file can never claim RUNNING with a finish time.
 *
 *                 backend create ok
 *   (pending) ──────────────────────► CREATED ──start──► RUNNING ──exit / stop──► EXITED
 *   createdAt=0                      createdAt≠0        startedAt≠0               finishedAt≠0
 *       │                                │                  │                        │
 *       │ crash / create fails           │ start fails      │ vanished while         │
 *       ▼                                ▼ (StartError)     ▼ servin was down        │
 *   cleaned up on restart             EXITED             UNKNOWN ──stop──► EXITED    │
 *   (never visible)                                      unknown=true    (255,"Unknown")
 *                                                                                     ▼
 *                                          any visible state ──remove──► deleted (record and file gone)
 *
 * Precedence, as containerd's store/container/status.go: unknown > finished >
 * started > created. A pending container (createdAt = 0) exists only on disk
 * and in its name reservation until the backend has built it.
 */
import type { ContainerResources, ContainerState, UnixNanos } from "@servin/cri-types";

/** Version of the persisted status shape; bump it with a migration when fields change meaning. */
export const CONTAINER_STATUS_VERSION = 1;

export interface ContainerStatusData {
  /** When the backend finished building the container; 0 while the create is still pending. */
  createdAt: UnixNanos;
  /** 0 until started. */
  startedAt: UnixNanos;
  /** 0 until the process ended. */
  finishedAt: UnixNanos;
  exitCode: number;
  /** Completed, Error, OOMKilled, StartError, Unknown; "" lets the status RPC derive it from the exit code. */
  reason: string;
  message: string;
  /** Set when the backend lost the container (containerd's CONTAINER_UNKNOWN). */
  unknown: boolean;
  /** Resources as last applied by UpdateContainerResources (absent: the create-time config). */
  resources?: ContainerResources;
}

/** The status a container record is first persisted with: pending. */
export function pendingContainerStatus(): ContainerStatusData {
  return {
    createdAt: 0n,
    startedAt: 0n,
    finishedAt: 0n,
    exitCode: 0,
    reason: "",
    message: "",
    unknown: false,
  };
}

/** True while the create has not completed (persisted before the backend was asked). */
export function isContainerPending(status: ContainerStatusData): boolean {
  return status.createdAt === 0n && !status.unknown;
}

/** The CRI state derived from the timestamps and the unknown flag. */
export function containerState(status: ContainerStatusData): ContainerState {
  if (status.unknown) return "CONTAINER_UNKNOWN";
  if (status.finishedAt !== 0n) return "CONTAINER_EXITED";
  if (status.startedAt !== 0n) return "CONTAINER_RUNNING";
  if (status.createdAt !== 0n) return "CONTAINER_CREATED";
  // Pending objects are hidden from every RPC; reporting UNKNOWN here is only a safe default.
  return "CONTAINER_UNKNOWN";
}
