/** The capabilities this process may hand out: its bounding set, read once from /proc/self/status. */
import { readFile } from "node:fs/promises";
import { ALL_CAPABILITIES } from "./spec/defaults.js";

let cached: Promise<string[] | undefined> | undefined;

/** Capability names by bit, from a CapBnd hex mask (ALL_CAPABILITIES is in bit order). */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** undefined when /proc cannot tell (then "all" stays every capability Linux knows). */
export function hostCapabilities(): Promise<string[] | undefined> {
  cached ??= readFile("/proc/self/status", "utf8")
    .then((s) => {
      const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(s);
      return m?.[1] ? capabilitiesFromMask(m[1]) : undefined;
    })
    .catch(() => undefined);
  return cached;
}
