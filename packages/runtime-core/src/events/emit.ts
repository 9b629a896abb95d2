/** Builds and publishes CRI container events (containerd's generateAndSendContainerEvent). */
import type { ContainerEventType, PodSandboxStatus, SandboxId } from "@servin/cri-types";
import { nowNanos } from "@servin/cri-types";
import { containersOf, type RuntimeContext } from "../_context.js";
import { toContainerStatus } from "../container/status.js";
import { toSandboxStatus } from "../sandbox/status.js";

/**
 * Publishes an event about `objectId` (a container, or — as containerd does
 * for kubelet's evented PLEG — the pod sandbox itself) carrying the pod's
 * status and the statuses of all its containers. `sandboxStatus` is passed
 * when the pod is already gone from the index (its DELETED event).
 */
export function emitEvent(
  ctx: RuntimeContext,
  objectId: string,
  type: ContainerEventType,
  sandboxId: SandboxId,
  sandboxStatus?: PodSandboxStatus,
): void {
  if (ctx.events.subscriberCount === 0) return;
  const sandbox = ctx.sandboxes.get(sandboxId);
  const podSandboxStatus = sandboxStatus ?? (sandbox ? toSandboxStatus(sandbox) : undefined);
  ctx.events.publish({
    containerId: objectId,
    containerEventType: type,
    createdAt: nowNanos(),
    ...(podSandboxStatus ? { podSandboxStatus } : {}),
    containersStatuses: containersOf(ctx, sandboxId).map(toContainerStatus),
  });
}
