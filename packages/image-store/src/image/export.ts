/** Servin's ExportImage extension: an image as an OCI layout (that `docker load` also reads). */
import { CriError } from "@servin/cri-types";
import { exportName, type ImageContext } from "../_context.js";
import { findImage } from "../_records.js";
import type { ExportOptions } from "../backend.js";

/**
 * Writes the image `ref` names to `dest` as an OCI layout tar (default) or
 * directory, tagged with the tag `ref` names (else the image's first tag).
 * NotFound for an unknown image; Unimplemented on a backend without a content store.
 *
 * @example
 * await images.exportImage("alpine:3.19", "/tmp/alpine.tar");
 */
export async function exportImage(
  ctx: ImageContext,
  ref: string,
  dest: string,
  opts: ExportOptions = {},
): Promise<void> {
  const rec = findImage(ctx.records.values(), ref);
  if (!rec) throw CriError.notFound(`image "${ref}" not found`);
  const name = exportName(rec, ref);
  await ctx.backend.exportArchive([{ rec, ...(name ? { name } : {}) }], dest, opts);
}

/**
 * The image as an OCI layout tar stream. Resolves once the image is found
 * (NotFound before any byte); its content is kept from GC until the stream ends.
 *
 * @example
 * for await (const chunk of await images.exportImageStream("alpine")) res.write(chunk);
 */
export async function exportImageStream(ctx: ImageContext, ref: string): Promise<AsyncIterable<Buffer>> {
  const rec = findImage(ctx.records.values(), ref);
  if (!rec) throw CriError.notFound(`image "${ref}" not found`);
  const name = exportName(rec, ref);
  // Leased while streaming: a RemoveImage + GC meanwhile must not delete blobs still being sent.
  const lease = ctx.backend.newLease();
  for (const d of [rec.id, rec.manifestDigest, ...rec.layers.map((l) => l.digest)]) lease.add(d);
  let tar: AsyncIterable<Buffer>;
  try {
    tar = ctx.backend.exportTar([{ rec, ...(name ? { name } : {}) }]);
  } catch (err) {
    lease.release();
    throw err;
  }
  return (async function* () {
    try {
      yield* tar;
    } finally {
      lease.release();
    }
  })();
}
