/** Servin's ImportImage extension: images from an OCI layout (dir or tar) or a `docker save` tar. */
import type { Image } from "@servin/cri-types";
import { attach, type ImageContext } from "../_context.js";
import { toCriImage } from "../_records.js";
import type { ImportOptions } from "../backend.js";
import { parseReference } from "../reference.js";

/**
 * Imports every image of the archive at `path` on this host, named as the
 * archive names them (tags move off other images, as on a pull). Unimplemented
 * on a backend without a content store.
 *
 * @example
 * const imported = await images.importImage("/tmp/app.tar", { name: "registry.example/app" });
 */
export function importImage(ctx: ImageContext, path: string, opts: ImportOptions = {}): Promise<Image[]> {
  return importFrom(ctx, path, opts);
}

/**
 * Like `importImage`, reading the archive from a stream (e.g. an HTTP request
 * body) and storing blobs as they arrive.
 *
 * @example
 * const imported = await images.importImageStream(createReadStream("/tmp/app.tar"));
 */
export function importImageStream(
  ctx: ImageContext,
  archive: AsyncIterable<Uint8Array>,
  opts: ImportOptions = {},
): Promise<Image[]> {
  return importFrom(ctx, { stream: archive, name: "archive" }, opts);
}

async function importFrom(
  ctx: ImageContext,
  source: string | { stream: AsyncIterable<Uint8Array>; name: string },
  opts: ImportOptions,
): Promise<Image[]> {
  // Leased until recorded, like a pull: a concurrent GC never takes the imported content.
  const lease = ctx.backend.newLease();
  try {
    const found = await ctx.backend.importArchive(source, opts, lease);
    const out: Image[] = [];
    for (const { pulled, names } of found) {
      const tags: string[] = [];
      const digests: string[] = [];
      for (const n of names) {
        const r = parseReference(n);
        if (r.digest) digests.push(`${r.name}@${r.digest}`);
        else tags.push(`${r.name}:${r.tag}`);
      }
      out.push(toCriImage(await ctx.locked(() => attach(ctx, pulled, tags, digests))));
    }
    return out;
  } finally {
    lease.release();
  }
}
