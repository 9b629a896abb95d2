/** PullImage: identical concurrent pulls run once, each caller waiting with its own signal and progress. */
import type {
  ImageId,
  PullImageRequest,
  PullImageResponse,
  PullOptions,
  PullProgress,
} from "@servin/cri-types";
import { toCriError, withCombinedSignal } from "@servin/cri-types";
import { attach, checkSignal, type ImageContext, requireImageSpec, type SharedPull } from "../_context.js";
import { abortError } from "../_pull.js";
import { SharedOperation } from "../_shared.js";
import type { PulledImage } from "../backend.js";
import { type ImageReference, parseReference } from "../reference.js";

/**
 * PullImage RPC. Answers the image ID as `imageRef` (as containerd does).
 * Identical concurrent pulls share one pull (as CRI-O does); the content
 * store further shares blobs between different images. Each caller waits
 * with its own signal and gets the progress (joiners first get the latest
 * event of every blob); the pull is cancelled only when all callers are, or
 * when the service closes.
 *
 * @example
 * const { imageRef } = await images.pullImage(
 *   { image: { image: "alpine:3.19" } },
 *   { onProgress: (e) => console.log(e.kind, e.digest, e.status) },
 * );
 */
export async function pullImage(
  ctx: ImageContext,
  req: PullImageRequest,
  opts: PullOptions = {},
): Promise<PullImageResponse> {
  checkSignal(opts.signal, "pullImage");
  const ref = parseReference(requireImageSpec(req.image?.image));
  const key = `${ref.string}\u0000${JSON.stringify(req.auth ?? {})}`;
  const shared = sharedPull(ctx, key, ref, req);
  const onProgress = opts.onProgress;
  if (onProgress) {
    for (const e of shared.latest.values()) {
      try {
        onProgress(e);
      } catch {
        // A progress consumer never breaks a pull.
      }
    }
    shared.listeners.add(onProgress);
  }
  try {
    return { imageRef: await shared.op.join(opts.signal, (signal) => abortError(signal, ref)) };
  } catch (err) {
    throw toCriError(err);
  } finally {
    if (onProgress) shared.listeners.delete(onProgress);
  }
}

/** The shared pull for `key`, started if none runs (or the running one was abandoned by all its waiters). */
function sharedPull(ctx: ImageContext, key: string, ref: ImageReference, req: PullImageRequest): SharedPull {
  const running = ctx.pulls.get(key);
  if (running && !running.op.abandoned) return running;
  const listeners = new Set<(e: PullProgress) => void>();
  const latest = new Map<string, PullProgress>();
  const fanOut = (e: PullProgress) => {
    latest.set(`${e.kind}:${e.digest}`, e);
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // A progress consumer never breaks a pull (nor the other waiters' progress).
      }
    }
  };
  const op: SharedOperation<ImageId> = new SharedOperation(
    (signal) => withCombinedSignal(ctx.lifetime, signal, (s) => pullOnce(ctx, ref, req, s, fanOut)),
    () => {
      // Every waiter gave up: the pull is being cancelled, so a new caller starts afresh.
      if (ctx.pulls.get(key)?.op === op) ctx.pulls.delete(key);
    },
  );
  const shared: SharedPull = { op, listeners, latest };
  ctx.pulls.set(key, shared);
  op.promise
    .finally(() => {
      if (ctx.pulls.get(key) === shared) ctx.pulls.delete(key);
    })
    .catch(() => undefined);
  return shared;
}

async function pullOnce(
  ctx: ImageContext,
  ref: ImageReference,
  req: PullImageRequest,
  signal: AbortSignal,
  onProgress: (e: PullProgress) => void,
): Promise<ImageId> {
  // The lease keeps GC off what this pull stores until the image is recorded
  // (a RemoveImage of another image may collect between download and attach).
  const lease = ctx.backend.newLease();
  try {
    let pulled: PulledImage;
    try {
      pulled = await ctx.backend.pull(ref, {
        ...(req.auth ? { auth: req.auth } : {}),
        signal,
        onProgress,
        lease,
      });
    } catch (err) {
      // Content an image was rejected for is garbage; blobs of a pull that merely
      // failed on the network stay, so a retry does not download them again.
      if (toCriError(err).code === "InvalidArgument") {
        lease.release();
        await ctx.locked(() => ctx.backend.collectGarbage([...ctx.records.values()])).catch(() => undefined);
      }
      throw err;
    }
    // containerd names a pull by tag `name:tag` and always `name@digest`; a
    // reference with both tag and digest is stored by digest only.
    const tags = ref.digest || ref.tag === undefined ? [] : [`${ref.name}:${ref.tag}`];
    const rec = await ctx.locked(() => attach(ctx, pulled, tags, [`${ref.name}@${pulled.topDigest}`]));
    ctx.logger.info(`pulled ${ref.string} as ${rec.id}`);
    return rec.id;
  } finally {
    lease.release();
  }
}
