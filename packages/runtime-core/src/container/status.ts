/** ContainerStatus: the CRI view of one container, derived from its record and status (see store/container-status.ts). */
import {
  type CallOptions,
  type ContainerStatus,
  type ContainerStatusRequest,
  type ContainerStatusResponse,
  ViewAnswers,
} from "@servin/cri-types";
import { type ContainerEntry, findContainer, type RuntimeContext } from "../_context.js";
import { stringifyInfo } from "../_json.js";
import { EntryViews } from "../_views.js";
import { containerState } from "../store/container-status.js";

const statusViews = new EntryViews(buildContainerStatus);
/** The plain (not verbose) answer: one frozen object per status view, so its encoding is kept too. */
const answers = new ViewAnswers((status: ContainerStatus): ContainerStatusResponse => ({ status }));

/**
 * The CRI ContainerStatus of an index entry (no I/O: safe for lists and events): built once per
 * version of the entry and frozen (see _views.ts).
 */
export function toContainerStatus(entry: ContainerEntry): ContainerStatus {
  return statusViews.of(entry);
}

function buildContainerStatus(entry: ContainerEntry): ContainerStatus {
  const { record, status } = entry;
  const state = containerState(status);
  const config = record.config;
  let reason = status.reason;
  // containerd leaves the reason empty and kubelet derives it; we say it, as containerd's status does for exits.
  if (reason === "" && state === "CONTAINER_EXITED") reason = status.exitCode === 0 ? "Completed" : "Error";
  const resources =
    status.resources ?? (config.linux?.resources ? { linux: config.linux.resources } : undefined);
  return {
    id: record.id,
    metadata: config.metadata,
    state,
    createdAt: status.createdAt,
    startedAt: status.startedAt,
    finishedAt: status.finishedAt,
    exitCode: status.exitCode,
    // As containerd: report the image by its first tag when it has one, and its digest reference as image_ref.
    image: Object.freeze({ ...config.image, image: record.image.repoTags[0] ?? config.image.image }),
    imageRef: record.image.ref,
    imageId: record.image.id,
    reason,
    message: status.message,
    labels: config.labels ?? {},
    annotations: config.annotations ?? {},
    mounts: config.mounts ?? [],
    logPath: record.logPath,
    ...(resources ? { resources } : {}),
    ...(config.stopSignal ? { stopSignal: config.stopSignal } : {}),
  };
}

/** The verbose `info` map: one key "info" holding JSON, as containerd does. */
export function containerInfo(ctx: RuntimeContext, entry: ContainerEntry): Record<string, string> {
  const { record } = entry;
  const pid = record.backendState.pid;
  return {
    info: stringifyInfo({
      sandboxID: record.sandboxId,
      ...(typeof pid === "number" ? { pid } : {}),
      runtime: { name: ctx.runtimeName, backend: ctx.backend.name },
      backendState: record.backendState,
      image: { id: record.image.id, ref: record.image.ref, repoTags: record.image.repoTags },
      logPath: record.logPath,
      config: record.config,
    }),
  };
}

/**
 * ContainerStatus RPC.
 *
 * @example
 * const { status } = await runtime.containerStatus({ containerId: id.slice(0, 12) });
 */
export async function containerStatus(
  ctx: RuntimeContext,
  req: ContainerStatusRequest,
  _opts?: CallOptions,
): Promise<ContainerStatusResponse> {
  const entry = findContainer(ctx, req.containerId);
  if (!req.verbose) return answers.of(toContainerStatus(entry));
  return { status: toContainerStatus(entry), info: containerInfo(ctx, entry) };
}
