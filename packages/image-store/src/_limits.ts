/** Decompression caps of one pull or import: per layer (absolute, and relative to its compressed size) and per image. */
import { DecompressionLimitError } from "./_decompress.js";
import type { SnapshotLimits } from "./_snapshots.js";
import type { StoreLimits } from "./registry-config.js";

/**
 * The cap on one layer's uncompressed bytes:
 * `min(maxLayerBytes, max(maxLayerExpansion × compressed, layerExpansionFloor))`.
 *
 * @example
 * layerLimits({ ...DEFAULT_LIMITS }, 2 << 20).maxLayerBytes; // 1 GiB: 100 × 2 MiB is below the floor
 */
export function layerLimits(limits: Required<StoreLimits>, compressedSize: number): SnapshotLimits {
  let cap = limits.maxLayerBytes;
  let note = "the cap on any layer";
  if (limits.maxLayerExpansion > 0) {
    const relative = limits.maxLayerExpansion * compressedSize;
    if (Math.max(relative, limits.layerExpansionFloor) < cap) {
      cap = Math.max(relative, limits.layerExpansionFloor);
      note =
        relative >= limits.layerExpansionFloor
          ? `${limits.maxLayerExpansion}× its ${compressedSize} compressed bytes`
          : `the expansion floor: ${limits.maxLayerExpansion}× its ${compressedSize} compressed bytes is less`;
    }
  }
  return { maxLayerBytes: cap, maxLayerBytesNote: note, maxLayerEntries: limits.maxLayerEntries };
}

/**
 * Counts what the layers of one image expand to, across layers unpacking in
 * parallel: the counter a layer's unpack reports to throws once the sum is over
 * the cap, so every unpack of the image stops at its next chunk.
 */
export class ImageExpansionBudget {
  private used = 0;
  constructor(private readonly max: number) {}

  /** An `onBytes` callback for one layer (it reports its cumulative uncompressed bytes). */
  layer(): (uncompressed: number) => void {
    let seen = 0;
    return (n) => {
      this.used += n - seen;
      seen = n;
      if (this.used > this.max)
        throw new DecompressionLimitError(
          `the image's layers expand past the ${this.max}-byte cap on a whole image: decompression bomb? (nothing past the cap was written)`,
        );
    };
  }
}
