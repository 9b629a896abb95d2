/** ContainerStats and ListContainerStats: backend usage figures with the CRI attributes. */
import type {
  CallOptions,
  ContainerStats,
  ContainerStatsRequest,
  ContainerStatsResponse,
  ListContainerStatsRequest,
  ListContainerStatsResponse,
} from "@servin/cri-types";
import {
  backendError,
  type ContainerEntry,
  filterContainerId,
  filterSandboxId,
  findContainer,
  matchesLabels,
  type RuntimeContext,
} from "../_context.js";
import { isContainerPending } from "../store/container-status.js";

async function statsOf(ctx: RuntimeContext, entry: ContainerEntry): Promise<ContainerStats> {
  const { record } = entry;
  let usage: Awaited<ReturnType<typeof ctx.backend.containerStats>>;
  try {
    usage = await ctx.backend.containerStats(record);
  } catch (err) {
    throw backendError(`stats of container "${record.id}"`, err);
  }
  return {
    attributes: {
      id: record.id,
      metadata: record.config.metadata,
      labels: record.config.labels ?? {},
      annotations: record.config.annotations ?? {},
    },
    ...usage,
  };
}

/** Stats of several containers; one removed meanwhile is skipped, any other failure is thrown. */
export async function collectContainerStats(
  ctx: RuntimeContext,
  entries: ContainerEntry[],
): Promise<ContainerStats[]> {
  const settled = await Promise.allSettled(entries.map((e) => statsOf(ctx, e)));
  const out: ContainerStats[] = [];
  settled.forEach((r, i) => {
    if (r.status === "fulfilled") out.push(r.value);
    else if (!entries[i]!.removed) throw r.reason;
  });
  return out;
}

/**
 * ContainerStats RPC.
 *
 * @example
 * const { stats } = await runtime.containerStats({ containerId: id });
 */
export async function containerStats(
  ctx: RuntimeContext,
  req: ContainerStatsRequest,
  _opts?: CallOptions,
): Promise<ContainerStatsResponse> {
  return { stats: await statsOf(ctx, findContainer(ctx, req.containerId)) };
}

/**
 * ListContainerStats RPC: filters `id`, `podSandboxId` (full or unique
 * prefix) and `labelSelector`.
 *
 * @example
 * const { stats } = await runtime.listContainerStats({ filter: { podSandboxId } });
 */
export async function listContainerStats(
  ctx: RuntimeContext,
  req: ListContainerStatsRequest,
  _opts?: CallOptions,
): Promise<ListContainerStatsResponse> {
  const filter = req.filter ?? {};
  let onlyId: string | null | undefined;
  let onlySandbox: string | null | undefined;
  if (filter.id) {
    onlyId = filterContainerId(ctx, filter.id);
    if (onlyId === null) return { stats: [] };
  }
  if (filter.podSandboxId) {
    onlySandbox = filterSandboxId(ctx, filter.podSandboxId);
    if (onlySandbox === null) return { stats: [] };
  }
  const selected = [...ctx.containers.values()].filter(
    (e) =>
      !isContainerPending(e.status) &&
      (onlyId === undefined || e.record.id === onlyId) &&
      (onlySandbox === undefined || e.record.sandboxId === onlySandbox) &&
      matchesLabels(e.record.config.labels, filter.labelSelector),
  );
  return { stats: await collectContainerStats(ctx, selected) };
}
