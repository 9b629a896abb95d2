/** ImageFsInfo: what the image store takes on its filesystem. */
import type { CallOptions, Empty, ImageFsInfoResponse } from "@servin/cri-types";
import { checkSignal, type ImageContext } from "../_context.js";

/**
 * ImageFsInfo RPC: the backend's bytes and inodes (the disk backend walks
 * `<root>/images`, cached until the store changes; kubelet's image GC reads it).
 *
 * @example
 * const { imageFilesystems } = await images.imageFsInfo({});
 */
export async function imageFsInfo(
  ctx: ImageContext,
  _req: Empty,
  opts?: CallOptions,
): Promise<ImageFsInfoResponse> {
  checkSignal(opts?.signal, "imageFsInfo");
  return ctx.backend.fsInfo();
}
