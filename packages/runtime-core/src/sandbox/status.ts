/** PodSandboxStatus: the CRI view of one pod sandbox, with its containers' statuses when pod events are on. */
import {
  type CallOptions,
  nowNanos,
  type PodSandboxStatus,
  type PodSandboxStatusRequest,
  type PodSandboxStatusResponse,
  ViewAnswers,
} from "@servin/cri-types";
import { containersOf, findSandbox, type RuntimeContext, type SandboxEntry } from "../_context.js";
import { stringifyInfo } from "../_json.js";
import { EntryViews } from "../_views.js";
import { toContainerStatus } from "../container/status.js";

const statusViews = new EntryViews(buildSandboxStatus);
/** The plain answer (not verbose, no pod events): one frozen object per status view, so its encoding is kept too. */
const answers = new ViewAnswers((status: PodSandboxStatus): PodSandboxStatusResponse => ({ status }));

/** The CRI PodSandboxStatus of an index entry (no I/O): built once per version of it and frozen (see _views.ts). */
export function toSandboxStatus(entry: SandboxEntry): PodSandboxStatus {
  return statusViews.of(entry);
}

function buildSandboxStatus(entry: SandboxEntry): PodSandboxStatus {
  const { record, status } = entry;
  const config = record.config;
  const ns = config.linux?.securityContext?.namespaceOptions;
  return {
    id: record.id,
    metadata: config.metadata,
    state: status.state,
    createdAt: status.createdAt,
    // The IP is released on stop; a NOTREADY pod reports none rather than a stale one.
    network: status.state === "SANDBOX_READY" && status.network ? status.network : {},
    linux: {
      namespaces: {
        // Proto3 default for NamespaceMode is POD; report what the pod runs with, as containerd does.
        options: {
          network: ns?.network ?? "POD",
          pid: ns?.pid ?? "POD",
          ipc: ns?.ipc ?? "POD",
          ...(ns?.targetId ? { targetId: ns.targetId } : {}),
          ...(ns?.usernsOptions ? { usernsOptions: ns.usernsOptions } : {}),
        },
      },
    },
    labels: config.labels ?? {},
    annotations: config.annotations ?? {},
    runtimeHandler: record.runtimeHandler,
  };
}

/**
 * PodSandboxStatus RPC. Verbose adds `info.info`: JSON with the backend's
 * live observation (pid, bundle…), its persisted state and the pod config.
 *
 * @example
 * const { status } = await runtime.podSandboxStatus({ podSandboxId: id });
 */
export async function podSandboxStatus(
  ctx: RuntimeContext,
  req: PodSandboxStatusRequest,
  _opts?: CallOptions,
): Promise<PodSandboxStatusResponse> {
  const entry = findSandbox(ctx, req.podSandboxId);
  if (!req.verbose && !ctx.enablePodEvents) return answers.of(toSandboxStatus(entry));
  // The evented-PLEG fields only when asked for (as CRI-O's enable_pod_events): without a timestamp
  // kubelet lists the pod's containers itself, and the answer every generic-PLEG relist reads stays small.
  const response: PodSandboxStatusResponse = ctx.enablePodEvents
    ? {
        status: toSandboxStatus(entry),
        containersStatuses: containersOf(ctx, entry.record.id).map(toContainerStatus),
        timestamp: nowNanos(),
      }
    : { status: toSandboxStatus(entry) };
  if (req.verbose) {
    let observed: Record<string, unknown>;
    try {
      const o = await ctx.backend.inspectSandbox(entry.record);
      observed = { ready: o.ready, ...(o.info ?? {}) };
    } catch (err) {
      observed = { error: err instanceof Error ? err.message : String(err) };
    }
    response.info = {
      info: stringifyInfo({
        runtimeHandler: entry.record.runtimeHandler,
        backend: ctx.backend.name,
        observed,
        backendState: entry.record.backendState,
        config: entry.record.config,
      }),
    };
  }
  return response;
}
