/** ListContainers: filters over the in-memory index; never waits on a lock or the backend. */
import {
  type CallOptions,
  type Container,
  ListAnswers,
  type ListContainersRequest,
  type ListContainersResponse,
} from "@servin/cri-types";
import {
  type ContainerEntry,
  filterContainerId,
  filterSandboxId,
  matchesLabels,
  type RuntimeContext,
} from "../_context.js";
import { EntryViews } from "../_views.js";
import { containerState, isContainerPending } from "../store/container-status.js";

/** The list item of a container, built once per version of its entry (see _views.ts). */
const items = new EntryViews(
  ({ record, status }: ContainerEntry): Container => ({
    id: record.id,
    podSandboxId: record.sandboxId,
    metadata: record.config.metadata,
    image: record.config.image,
    // The image's ID, as containerd lists it: kubelet (toKubeContainer) takes a listed container's
    // image_ref for the ID of the image it uses, and its image GC keeps the images whose ListImages `id`
    // matches one. ContainerStatus says the digest reference (see status.ts), as containerd's does.
    imageRef: record.image.id,
    imageId: record.image.id,
    state: containerState(status),
    createdAt: status.createdAt,
    labels: record.config.labels ?? {},
    annotations: record.config.annotations ?? {},
  }),
);

/**
 * ListContainers RPC. Filters: `id` and `podSandboxId` (full ID or unique
 * prefix; unknown or ambiguous matches nothing, as containerd), `state`,
 * `labelSelector` (every pair must match). Containers still being created
 * are not listed.
 *
 * @example
 * const { containers } = await runtime.listContainers({ filter: { podSandboxId: podId.slice(0, 8) } });
 */
export async function listContainers(
  ctx: RuntimeContext,
  req: ListContainersRequest,
  _opts?: CallOptions,
): Promise<ListContainersResponse> {
  const filter = req.filter ?? {};
  let onlyId: string | null | undefined;
  let onlySandbox: string | null | undefined;
  if (filter.id) {
    onlyId = filterContainerId(ctx, filter.id);
    if (onlyId === null) return { containers: [] };
  }
  if (filter.podSandboxId) {
    onlySandbox = filterSandboxId(ctx, filter.podSandboxId);
    if (onlySandbox === null) return { containers: [] };
  }
  lists.begin();
  for (const entry of ctx.containers.values()) {
    const { record, status } = entry;
    if (isContainerPending(status)) continue;
    if (onlyId !== undefined && record.id !== onlyId) continue;
    if (onlySandbox !== undefined && record.sandboxId !== onlySandbox) continue;
    const state = containerState(status);
    if (filter.state && state !== filter.state.state) continue;
    if (!matchesLabels(record.config.labels, filter.labelSelector)) continue;
    lists.add(items.of(entry));
  }
  return lists.answer(ctx);
}

/** The same frozen answer while the listed views are the same (kubelet's relist, every second). */
const lists = new ListAnswers((containers: readonly Container[]) => ({
  containers: containers as Container[],
}));
