/** RemoveImage: untag, or delete and collect the image's content. */
import type { CallOptions, Empty, RemoveImageRequest } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { checkSignal, type ImageContext, persist, requireImageSpec } from "../_context.js";
import { findImage } from "../_records.js";
import { tryParseReference } from "../reference.js";

/**
 * RemoveImage RPC. A tag or digest reference removes that one name while
 * other tags remain (docker's untag); the last tag, or the ID, deletes the
 * image and collects its blobs and snapshots. An image a container uses is
 * FailedPrecondition; an unknown image is success (the CRI's idempotence).
 *
 * @example
 * await images.removeImage({ image: { image: "alpine:3.19" } });
 */
export async function removeImage(
  ctx: ImageContext,
  req: RemoveImageRequest,
  opts?: CallOptions,
): Promise<Empty> {
  checkSignal(opts?.signal, "removeImage");
  const raw = requireImageSpec(req.image?.image);
  return ctx.locked(async () => {
    const rec = findImage(ctx.records.values(), raw);
    if (!rec) return {};
    const parsed = tryParseReference(raw);
    const byTag =
      parsed && !parsed.digest && rec.repoTags.includes(parsed.string) ? parsed.string : undefined;
    const byDigest =
      parsed?.digest && rec.repoDigests.includes(`${parsed.name}@${parsed.digest}`)
        ? `${parsed.name}@${parsed.digest}`
        : undefined;
    if (byTag && rec.repoTags.length > 1) {
      rec.repoTags = rec.repoTags.filter((t) => t !== byTag);
      await persist(ctx);
      return {};
    }
    if (byDigest && rec.repoTags.length > 0) {
      rec.repoDigests = rec.repoDigests.filter((d) => d !== byDigest);
      await persist(ctx);
      return {};
    }
    if (ctx.isImageInUse(rec.id)) {
      throw CriError.failedPrecondition(
        `image "${raw}" (${rec.id}) is in use by a container; remove the container first`,
      );
    }
    ctx.records.delete(rec.id);
    await persist(ctx);
    await ctx.backend.collectGarbage([...ctx.records.values()]);
    ctx.logger.info(`removed image ${rec.id}`);
    return {};
  });
}
