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

/** An image's expansion budget as plain data, so that an unpack on a worker thread counts into it too. */
export interface SharedMeter {
  /** One BigInt64: the image's uncompressed bytes so far, across layers and threads. */
  used: SharedArrayBuffer;
  max: number;
}

/** A layer's `onBytes` callback that counts into a shared budget (`meter` says which). */
export type MeteredCallback = ((uncompressed: number) => void) & { meter?: SharedMeter };

/** The `onBytes` callback of one layer counting into `m` (on whichever thread the unpack runs). */
export function meterCallback(m: SharedMeter): MeteredCallback {
  const used = new BigInt64Array(m.used);
  let seen = 0;
  const fn = (n: number) => {
    const total = Atomics.add(used, 0, BigInt(n - seen)) + BigInt(n - seen);
    seen = n;
    if (total > BigInt(m.max))
      throw new DecompressionLimitError(
        `the image's layers expand past the ${m.max}-byte cap on a whole image: decompression bomb? (nothing past the cap was written)`,
      );
  };
  return Object.assign(fn, { meter: m });
}

/**
 * Counts what the layers of one image expand to, across layers unpacking in
 * parallel (on the main thread or on workers: the count is in shared memory):
 * the counter a layer's unpack reports to throws once the sum is over the cap,
 * so every unpack of the image stops at its next chunk.
 */
export class ImageExpansionBudget {
  private readonly meter: SharedMeter;
  constructor(max: number) {
    this.meter = { used: new SharedArrayBuffer(8), max };
  }

  /** An `onBytes` callback for one layer (it reports its cumulative uncompressed bytes). */
  layer(): MeteredCallback {
    return meterCallback(this.meter);
  }
}
