/** ListImages: every image, oldest first, or the one a filter names. */
import {
  type CallOptions,
  type Image,
  ListAnswers,
  type ListImagesRequest,
  type ListImagesResponse,
} from "@servin/cri-types";
import type { ImageContext } from "../_context.js";
import { findImage, toCriImage } from "../_records.js";

/**
 * ListImages RPC. A filter (`filter.image.image`) is resolved like any image
 * reference (tag, digest, ID or ID prefix) and yields at most that image.
 *
 * @example
 * const { images: list } = await images.listImages({ filter: { image: { image: "alpine" } } });
 */
export async function listImages(
  ctx: ImageContext,
  req: ListImagesRequest,
  _opts?: CallOptions,
): Promise<ListImagesResponse> {
  // In-memory records only, no I/O and no await: nothing to cancel, so the call's signal is not read.
  const wanted = req.filter?.image?.image;
  if (wanted) {
    const hit = findImage(ctx.records.values(), wanted);
    return lists.of(ctx, hit ? [toCriImage(hit)] : []);
  }
  const images = [...ctx.records.values()]
    .sort((a, b) => (BigInt(a.storedAt) < BigInt(b.storedAt) ? -1 : 1))
    .map(toCriImage);
  return lists.of(ctx, images);
}

/** The same frozen answer while the listed views are the same. */
const lists = new ListAnswers((images: readonly Image[]) => ({ images: images as Image[] }));
