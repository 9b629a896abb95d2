/**
 * The mutable half of a pod sandbox. Unlike containers, the CRI has no
 * timestamps for a pod's infra, so the state is stored explicitly:
 *
 *   (pending) ──backend run ok──► SANDBOX_READY ──stop / infra died──► SANDBOX_NOTREADY ──remove──► deleted
 *   createdAt=0                                                          (never READY again)
 *       │ crash / run fails
 *       ▼
 *   cleaned up (undo steps, or on the next start)
 */
import type { PodSandboxNetworkStatus, PodSandboxState, UnixNanos } from "@servin/cri-types";

export const SANDBOX_STATUS_VERSION = 1;

export interface SandboxStatusData {
  /** When the backend finished running the sandbox; 0 while RunPodSandbox is still pending. */
  createdAt: UnixNanos;
  state: PodSandboxState;
  /** 0 until stopped (by StopPodSandbox or found dead on restart). */
  stoppedAt: UnixNanos;
  network?: PodSandboxNetworkStatus;
}

export function pendingSandboxStatus(): SandboxStatusData {
  return { createdAt: 0n, state: "SANDBOX_NOTREADY", stoppedAt: 0n };
}

export function isSandboxPending(status: SandboxStatusData): boolean {
  return status.createdAt === 0n;
}
