/** resolveImage: the ImageResolver the runtime creates containers through (config and layer snapshots). */
import type { RuntimeImage } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import type { ImageContext } from "../_context.js";
import { findImage, toRuntimeImage } from "../_records.js";

/**
 * The image a CreateContainer names, with its runtime config and snapshot
 * directories (lowest first). NotFound when the store does not hold it.
 *
 * @example
 * const img = await images.resolveImage("alpine");
 * console.log(img.id, img.layers);
 */
export async function resolveImage(ctx: ImageContext, ref: string): Promise<RuntimeImage> {
  const rec = findImage(ctx.records.values(), ref);
  if (!rec) throw CriError.notFound(`image "${ref}" not found`);
  return toRuntimeImage(rec, ctx.backend.layerPaths(rec));
}
