/** fast-check generators of valid, canonical domain values, derived from the same message descriptions as the codecs. */
import fc from "fast-check";
import type { Requirement } from "../src/_decode.js";
import type { Check, Kind, MessageDef } from "../src/_schema.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Map keys include the ones that bite naive code (`__proto__`, `constructor`) and non-identifier keys. */
const mapKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "app.kubernetes.io/name", ""),
);

function kindArb(
  kind: Kind,
  nonDefault: boolean,
  requirement: Requirement | undefined,
): fc.Arbitrary<unknown> {
  switch (kind.type) {
    case "string":
      // No NUL: request strings may not hold one.
      return fc
        .string({ minLength: nonDefault ? 1 : 0, maxLength: 16, unit: "grapheme" })
        .map((s) => s.replaceAll("\0", ""))
        .filter((s) => !nonDefault || s !== "");
    case "int32":
      return fc.integer().filter((n) => !nonDefault || n !== 0);
    case "uint32":
      return fc.integer({ min: nonDefault ? 1 : 0, max: 2 ** 32 - 1 });
    case "int64":
      return (kind.unsigned ? fc.maxSafeNat() : fc.maxSafeInteger()).filter((n) => !nonDefault || n !== 0);
    case "bool":
      return nonDefault ? fc.constant(true) : fc.boolean();
    case "bytes":
      return fc.uint8Array({ minLength: nonDefault ? 1 : 0, maxLength: 16 });
    case "enum":
      return fc.constantFrom(...(nonDefault ? kind.enum.values.slice(1) : kind.enum.values));
    case "timestamp":
      return fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).filter((n) => !nonDefault || n !== 0n);
    case "map":
      return fc.dictionary(
        mapKey.map((k) => k.replaceAll("\0", "")),
        fc.string({ maxLength: 8 }).map((s) => s.replaceAll("\0", "")),
        { minKeys: nonDefault ? 1 : 0, maxKeys: 3 },
      );
    case "list":
      return fc.array(kindArb(kind.item, false, undefined), { minLength: nonDefault ? 1 : 0, maxLength: 2 });
    case "message":
      return domainArb(kind.message, requirement);
  }
}

/** True when `value` keeps the field's extra rule. */
function keeps(check: Check, value: unknown): boolean {
  let ok = true;
  (check as unknown as (v: unknown, report: () => void) => void)(value, () => {
    ok = false;
  });
  return ok;
}

/** Values a checked field may hold that random generation rarely hits (resource ranges, cpusets). */
function candidates(kind: Kind): fc.Arbitrary<unknown> | undefined {
  if (kind.type === "int64")
    return fc.oneof(
      fc.constantFrom(-1, 2, 1000, 262_144, 1_000_000, 12 * 1024 * 1024),
      fc.integer({ min: 1000, max: 262_144 }),
    );
  if (kind.type === "string") return fc.constantFrom("0", "0-3,5", "/var/log/pods/x");
  return undefined;
}

/**
 * Arbitrary canonical domain values of a message: optional fields are either
 * absent or hold a non-default value (a proto3 default means "not set" on the
 * wire, so it cannot survive a round trip as a present value), and fields an
 * RPC requires are non-empty.
 */
export function domainArb(
  def: MessageDef<unknown>,
  requirement?: Requirement,
): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredKeys: string[] = [];
  for (const f of def.fields) {
    const sub = requirement && Object.hasOwn(requirement, f.name) ? requirement[f.name] : undefined;
    const arb = kindArb(f.kind, f.optional || sub !== undefined, sub);
    const check = f.check;
    const extra = check ? candidates(f.kind) : undefined;
    model[f.name] = check ? (extra ? fc.oneof(arb, extra) : arb).filter((v) => keeps(check, v)) : arb;
    if (!f.optional || sub !== undefined) requiredKeys.push(f.name);
  }
  return fc.record(model, { requiredKeys }) as fc.Arbitrary<Record<string, unknown>>;
}
