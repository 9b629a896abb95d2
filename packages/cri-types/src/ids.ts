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

/** The current time in Unix nanoseconds. */
export function nowNanos(): UnixNanos {
  // Date.now() has ms precision; hrtime adds a monotonic sub-ms part so that
  // two events in the same millisecond still order correctly.
  const ms = BigInt(Date.now());
  const sub = process.hrtime.bigint() % 1_000_000n;
  return ms * 1_000_000n + sub;
}
