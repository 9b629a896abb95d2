/** PodSandboxStats and ListPodSandboxStats: backend usage figures plus the pod's containers' stats. */
import type {
  CallOptions,
  ContainerStats,
  ListPodSandboxStatsRequest,
  ListPodSandboxStatsResponse,
  PodSandboxStats,
  PodSandboxStatsRequest,
  PodSandboxStatsResponse,
} from "@servin/cri-types";
import {
  backendError,
  containersOf,
  filterSandboxId,
  findSandbox,
  matchesLabels,
  type RuntimeContext,
  type SandboxEntry,
} from "../_context.js";
import { collectContainerStats } from "../container/stats.js";
import { isSandboxPending } from "../store/sandbox-status.js";

async function sandboxStats(ctx: RuntimeContext, entry: SandboxEntry): Promise<PodSandboxStats> {
  const { record } = entry;
  let linux: Awaited<ReturnType<typeof ctx.backend.sandboxStats>>;
  try {
    linux = await ctx.backend.sandboxStats(record);
  } catch (err) {
    throw backendError(`stats of pod sandbox "${record.id}"`, err);
  }
  const containers: ContainerStats[] = await collectContainerStats(ctx, containersOf(ctx, record.id));
  return {
    attributes: {
      id: record.id,
      metadata: record.config.metadata,
      labels: record.config.labels ?? {},
      annotations: record.config.annotations ?? {},
    },
    linux: { ...linux, containers },
  };
}

/**
 * PodSandboxStats RPC.
 *
 * @example
 * const { stats } = await runtime.podSandboxStats({ podSandboxId: id });
 */
export async function podSandboxStats(
  ctx: RuntimeContext,
  req: PodSandboxStatsRequest,
  _opts?: CallOptions,
): Promise<PodSandboxStatsResponse> {
  return { stats: await sandboxStats(ctx, findSandbox(ctx, req.podSandboxId)) };
}

/**
 * ListPodSandboxStats RPC: filters `id` (full or unique prefix) and
 * `labelSelector`. A pod removed while its stats were gathered is skipped.
 *
 * @example
 * const { stats } = await runtime.listPodSandboxStats({ filter: {} });
 */
export async function listPodSandboxStats(
  ctx: RuntimeContext,
  req: ListPodSandboxStatsRequest,
  _opts?: CallOptions,
): Promise<ListPodSandboxStatsResponse> {
  const filter = req.filter ?? {};
  let onlyId: string | null | undefined;
  if (filter.id) {
    onlyId = filterSandboxId(ctx, filter.id);
    if (onlyId === null) return { stats: [] };
  }
  const selected = [...ctx.sandboxes.values()].filter(
    (e) =>
      !isSandboxPending(e.status) &&
      (onlyId === undefined || e.record.id === onlyId) &&
      matchesLabels(e.record.config.labels, filter.labelSelector),
  );
  const settled = await Promise.allSettled(selected.map((e) => sandboxStats(ctx, e)));
  const stats: PodSandboxStats[] = [];
  settled.forEach((r, i) => {
    if (r.status === "fulfilled") stats.push(r.value);
    else if (!selected[i]!.removed) throw r.reason;
  });
  return { stats };
}
