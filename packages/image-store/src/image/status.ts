/** ImageStatus: one image, with containerd's verbose info on request. */
import {
  type CallOptions,
  type Image,
  type ImageStatusRequest,
  type ImageStatusResponse,
  ViewAnswers,
} from "@servin/cri-types";
import { type ImageContext, requireImageSpec } from "../_context.js";
import { findImage, toCriImage } from "../_records.js";

/**
 * ImageStatus RPC. An unknown image is not an error: the response has no
 * `image` (kubelet pulls then). `verbose` adds the config, manifest digests,
 * layers and snapshot directories as JSON under `info.info`.
 *
 * @example
 * const { image } = await images.imageStatus({ image: { image: "alpine" } });
 */
export async function imageStatus(
  ctx: ImageContext,
  req: ImageStatusRequest,
  _opts?: CallOptions,
): Promise<ImageStatusResponse> {
  // In-memory records only, no I/O and no await: nothing to cancel, so the call's signal is not read.
  const ref = requireImageSpec(req.image?.image);
  const rec = findImage(ctx.records.values(), ref);
  if (!rec) return {};
  if (!req.verbose) return answers.of(toCriImage(rec));
  // containerd answers verbose ImageStatus with {"info": {chainID, imageSpec}}.
  return {
    image: toCriImage(rec),
    info: {
      info: JSON.stringify({
        imageSpec: rec.config,
        manifestDigest: rec.manifestDigest,
        ...(rec.indexDigest ? { indexDigest: rec.indexDigest } : {}),
        layers: rec.layers,
        snapshots: ctx.backend.layerPaths(rec),
      }),
    },
  };
}

/** The plain (not verbose) answer: one frozen object per image view, so its encoding is kept too. */
const answers = new ViewAnswers((image: Image): ImageStatusResponse => ({ image }));
