/** Branded identifiers: a tag can never be passed where an ID is expected. */

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A 64-hex-character container ID. */
export type ContainerId = Brand<string, "ContainerId">;
/** A 64-hex-character pod sandbox ID. */
export type SandboxId = Brand<string, "SandboxId">;
/** An image ID: `sha256:` + 64 hex of the image config digest. */
export type ImageId = Brand<string, "ImageId">;

const HEX64 = /^[0-9a-f]{64}$/;
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

export function isFullId(value: string): boolean {
  return HEX64.test(value);
}

/** Parses a full 64-hex container ID, or returns undefined. */
export function parseContainerId(value: string): ContainerId | undefined {
  return HEX64.test(value) ? (value as ContainerId) : undefined;
}
/** Parses a full 64-hex sandbox ID, or returns undefined. */
export function parseSandboxId(value: string): SandboxId | undefined {
  return HEX64.test(value) ? (value as SandboxId) : undefined;
}
/** Parses `sha256:<64 hex>` as an image ID, or returns undefined. */
export function parseImageId(value: string): ImageId | undefined {
  return IMAGE_ID.test(value) ? (value as ImageId) : undefined;
}

/** Nanoseconds since the Unix epoch (CRI timestamps are int64 ns). */
export type UnixNanos = bigint;

// The wall clock at start-up, expressed against the monotonic clock: now = origin + hrtime
// gives nanosecond resolution and never goes backwards within a process (Date.now alone
// has ms resolution, and mixing it with a sub-ms hrtime part can step back at ms edges).
const originNanos = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** The current time in Unix nanoseconds (monotonic within the process). */
export function nowNanos(): UnixNanos {
  return originNanos + process.hrtime.bigint();
}
