/** ListPodSandbox: filters over the in-memory index; never waits on a lock or the backend. */
import {
  type CallOptions,
  ListAnswers,
  type ListPodSandboxRequest,
  type ListPodSandboxResponse,
  type PodSandbox,
} from "@servin/cri-types";
import { filterSandboxId, matchesLabels, type RuntimeContext, type SandboxEntry } from "../_context.js";
import { EntryViews } from "../_views.js";
import { isSandboxPending } from "../store/sandbox-status.js";

/** The list item of a pod, built once per version of its entry (see _views.ts). */
const items = new EntryViews(
  ({ record, status }: SandboxEntry): PodSandbox => ({
    id: record.id,
    metadata: record.config.metadata,
    state: status.state,
    createdAt: status.createdAt,
    labels: record.config.labels ?? {},
    annotations: record.config.annotations ?? {},
    runtimeHandler: record.runtimeHandler,
  }),
);

/**
 * ListPodSandbox RPC. Filters: `id` (full ID or unique prefix; an unknown or
 * ambiguous prefix matches nothing, as containerd), `state`, `labelSelector`
 * (every pair must match). Pods still being created are not listed.
 *
 * @example
 * const { items } = await runtime.listPodSandbox({ filter: { state: { state: "SANDBOX_READY" } } });
 */
export async function listPodSandbox(
  ctx: RuntimeContext,
  req: ListPodSandboxRequest,
  _opts?: CallOptions,
): Promise<ListPodSandboxResponse> {
  const filter = req.filter ?? {};
  let onlyId: string | null | undefined;
  if (filter.id) {
    onlyId = filterSandboxId(ctx, filter.id);
    if (onlyId === null) return { items: [] };
  }
  lists.begin();
  for (const entry of ctx.sandboxes.values()) {
    const { record, status } = entry;
    if (isSandboxPending(status)) continue;
    if (onlyId !== undefined && record.id !== onlyId) continue;
    if (filter.state && status.state !== filter.state.state) continue;
    if (!matchesLabels(record.config.labels, filter.labelSelector)) continue;
    lists.add(items.of(entry));
  }
  return lists.answer(ctx);
}

/** The same frozen answer while the listed views are the same (kubelet's relist, every second). */
const lists = new ListAnswers((found: readonly PodSandbox[]) => ({ items: found as PodSandbox[] }));
