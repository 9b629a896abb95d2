/** JSON helpers: bigint-safe encoding (timestamps are bigint ns) and structural equality. */

const BIGINT_TAG = "$bigint";

/** JSON.stringify that encodes bigint as `{"$bigint":"123"}` so it round-trips through `parseTagged`. */
export function stringifyTagged(value: unknown, space?: number): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === "bigint" ? { [BIGINT_TAG]: v.toString() } : v),
    space,
  );
}

/** JSON.parse that restores values written by `stringifyTagged`. */
export function parseTagged(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v);
      const tagged = (v as Record<string, unknown>)[BIGINT_TAG];
      if (keys.length === 1 && typeof tagged === "string") return BigInt(tagged);
    }
    return v;
  });
}

/** JSON.stringify for verbose `info` values: bigint as a decimal string, Uint8Array as an array. */
export function stringifyInfo(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Uint8Array) return Array.from(v);
    return v;
  });
}

/**
 * Structural equality of plain data (objects, arrays, primitives, bigint).
 * `undefined` members count as absent, as they would after a JSON round trip.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => deepEqual(ao[k], bo[k]));
}
