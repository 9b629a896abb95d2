/** The state every image RPC handler shares: the record index, the backend, the mutation lock, the running pulls. */
import type { ImageId, PullProgress } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import type { SharedOperation } from "./_shared.js";
import type { ImageBackend, ImageRecord, PulledImage } from "./backend.js";
import { tryParseReference } from "./reference.js";

/** A deduplicated pull: its waiters' progress callbacks and the latest event per blob (replayed to joiners). */
export interface SharedPull {
  op: SharedOperation<ImageId>;
  listeners: Set<(e: PullProgress) => void>;
  latest: Map<string, PullProgress>;
}

export interface ImageContext {
  readonly backend: ImageBackend;
  readonly logger: Logger;
  /** Every image the store holds, by ID. Mutated only inside `locked`. */
  readonly records: Map<ImageId, ImageRecord>;
  /** Running pulls by reference + auth (see image/pull.ts). */
  readonly pulls: Map<string, SharedPull>;
  /** Asked before an image is deleted or loses its last name (the runtime's containers use it). */
  isImageInUse(id: ImageId): boolean;
  /** Aborted by close(): running pulls stop (their downloaded blobs stay for a retry). */
  readonly lifetime: AbortSignal;
  /**
   * Runs `fn` after every mutation queued before it. Mutations of the record
   * set are serialised; pulls run outside the lock and only take it to attach
   * names and persist.
   */
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

/** A one-at-a-time queue: `run` chains work, `idle` resolves once everything queued so far has settled. */
export function createMutationQueue(): {
  run<T>(fn: () => Promise<T>): Promise<T>;
  idle(): Promise<unknown>;
} {
  let chain: Promise<unknown> = Promise.resolve();
  return {
    run<T>(fn: () => Promise<T>): Promise<T> {
      const run = chain.then(fn, fn);
      chain = run.catch(() => undefined);
      return run;
    },
    idle: () => chain,
  };
}

/** Hands the backend the complete record set (call inside `locked`). */
export function persist(ctx: ImageContext): Promise<void> {
  return ctx.backend.persist([...ctx.records.values()]);
}

/** Call-level cancellation of the short RPCs: a signal already aborted answers Aborted. */
export function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new CriError("Aborted", `${what} was cancelled`);
}

/** The `image.image` of a request, or InvalidArgument naming the field. */
export function requireImageSpec(raw: string | undefined): string {
  if (!raw)
    throw CriError.invalidArgument("image.image: expected a non-empty string", [
      { path: "image.image", message: "expected a non-empty string" },
    ]);
  return raw;
}

/** The name an export writes for `rec`: the tag `ref` names when it is one of the image's, else its first tag. */
export function exportName(rec: ImageRecord, ref: string): string | undefined {
  const parsed = tryParseReference(ref);
  return parsed && !parsed.digest && rec.repoTags.includes(parsed.string) ? parsed.string : rec.repoTags[0];
}

/**
 * Adds a pulled/imported image under `names`, moving tags off other images
 * (containerd semantics). An image that loses its last name is dropped and
 * its content collected, unless a container uses it: then it stays, untagged,
 * so its snapshots keep serving as the container's overlay lowers, until a
 * RemoveImage by ID (kubelet's image GC) deletes it. Call inside `locked`.
 */
export async function attach(
  ctx: ImageContext,
  pulled: PulledImage,
  tags: string[],
  digests: string[],
): Promise<ImageRecord> {
  const { records } = ctx;
  const id = pulled.record.id;
  const existing = records.get(id);
  const rec: ImageRecord = existing
    ? { ...existing, ...pulled.record, repoTags: existing.repoTags, repoDigests: existing.repoDigests }
    : { ...pulled.record, repoTags: [], repoDigests: [], storedAt: String(nowNanos()) };
  let orphaned = false;
  for (const tag of tags) {
    for (const other of records.values()) {
      if (other.id !== id && other.repoTags.includes(tag)) {
        other.repoTags = other.repoTags.filter((t) => t !== tag);
        if (other.repoTags.length === 0 && other.repoDigests.length === 0) {
          if (ctx.isImageInUse(other.id)) {
            ctx.logger.info(`image ${other.id} lost its last name to ${id}; kept untagged while in use`);
          } else {
            records.delete(other.id);
            orphaned = true;
          }
        }
      }
    }
    if (!rec.repoTags.includes(tag)) rec.repoTags.push(tag);
  }
  for (const d of digests) if (!rec.repoDigests.includes(d)) rec.repoDigests.push(d);
  records.set(id, rec);
  await persist(ctx);
  if (orphaned) await ctx.backend.collectGarbage([...records.values()]);
  return rec;
}
