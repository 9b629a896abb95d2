/** Content digests: parsing, validation and hashing helpers. */
import { createHash } from "node:crypto";
import { CriError } from "@servin/cri-types";

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** True for `sha256:<64 lowercase hex>`, the only algorithm the store keeps. */
export function isSha256Digest(value: unknown): value is string {
  return typeof value === "string" && SHA256.test(value);
}

/** Validates a digest taken from untrusted input (manifests, configs, archives). */
export function checkDigest(value: unknown, what: string): string {
  if (!isSha256Digest(value)) {
    throw CriError.invalidArgument(
      `${what}: expected a sha256 digest, got ${JSON.stringify(value)?.slice(0, 80)}`,
    );
  }
  return value;
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** The hex part of a validated sha256 digest. */
export function digestHex(digest: string): string {
  return digest.slice("sha256:".length);
}
