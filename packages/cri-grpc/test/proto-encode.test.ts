/**
 * The direct answer encoder (_proto-encode.ts) against protobufjs (proto-loader's serializer): for
 * every response message of the CRI, an answer with every field set (nested to depth 4, int64 beyond
 * 2^53 and negative, multi-byte strings on every length boundary of a one-byte length) and an empty one
 * decode to the same object from both encoders' bytes.
 */
import { describe, expect, it } from "vitest";
import type { FieldDescriptor, MessageDescriptor } from "../src/_descriptors.js";
import { ProtoEncoders } from "../src/_proto-encode.js";
import { criServiceDefinitions, loadCriPackageDefinition } from "../src/proto.js";

const def = loadCriPackageDefinition() as unknown as Record<
  string,
  { type: unknown; serialize: (v: unknown) => Buffer; deserialize: (b: Buffer) => unknown }
>;
const camel = (s: string) =>
  s.substring(0, 1) + s.substring(1).replace(/_([a-z])(?=[a-z]|$)/g, (_, c: string) => c.toUpperCase());

const INT64S = ["1796001365831246308", "-5", "9223372036854775807", "-9223372036854775808", "127", "128"];
const strings = [
  "",
  "a",
  "é",
  "€uro",
  "x".repeat(42),
  "€".repeat(43),
  "y".repeat(127),
  "z".repeat(128),
  "q".repeat(20000),
];

/** A wire object with every field set (values varied by `seed`). */
function sample(desc: MessageDescriptor, seed: number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [i, f] of desc.field.entries()) {
    const k = seed + i;
    const entry = desc.nestedType?.find((n) => n.name === f.typeName);
    if (entry?.options?.mapEntry) {
      const valueField = entry.field[1] as FieldDescriptor;
      out[camel(f.name)] = Object.fromEntries(
        strings
          .slice(0, 4)
          .map((s, j) => [
            `key${j}${s}`,
            valueField.type === "TYPE_MESSAGE"
              ? sampleOf(valueField.typeName, k + j, depth + 1)
              : (strings[(k + j) % strings.length] as string),
          ]),
      );
      continue;
    }
    const one = (j: number): unknown => {
      switch (f.type) {
        case "TYPE_STRING":
          return strings[(k + j) % strings.length];
        case "TYPE_BYTES":
          return Buffer.from([k % 256, 0, 255, j]);
        case "TYPE_BOOL":
          return (k + j) % 2 === 0;
        case "TYPE_DOUBLE":
          return (k + j) * 1.5 - 3;
        case "TYPE_INT32":
          return (k + j) % 3 === 0 ? -((k + j) * 1000) : (k + j) * 1000;
        case "TYPE_UINT32":
          return 4294967295 - k - j;
        case "TYPE_INT64":
          return INT64S[(k + j) % INT64S.length];
        case "TYPE_UINT64":
          return ["18446744073709551615", "0", "300", "9007199254740993"][(k + j) % 4];
        case "TYPE_ENUM": {
          const e = def[`runtime.v1.${f.typeName}`]?.type as { value: { name: string }[] };
          return e.value[(k + j) % e.value.length]?.name;
        }
        case "TYPE_MESSAGE":
          return depth >= 4 ? {} : sampleOf(f.typeName, k + j, depth + 1);
        default:
          throw new Error(`no sample for ${f.type}`);
      }
    };
    out[camel(f.name)] = f.label === "LABEL_REPEATED" ? [one(0), one(1), one(2)] : one(0);
  }
  return out;
}
function sampleOf(typeName: string, seed: number, depth: number): Record<string, unknown> {
  return sample(def[`runtime.v1.${typeName}`]?.type as MessageDescriptor, seed, depth);
}

const responseTypes = new Set<string>();
for (const service of Object.values(criServiceDefinitions("v1")))
  for (const m of Object.values(service))
    responseTypes.add((m as unknown as { responseType: { type: { name: string } } }).responseType.type.name);

describe("the direct answer encoder", () => {
  const encoders = new ProtoEncoders(def as never, "runtime.v1");
  it.each([...responseTypes])("%s decodes as protobufjs' encoding does", (name) => {
    const type = def[`runtime.v1.${name}`] as (typeof def)[string];
    const encode = encoders.encoder(name);
    for (const seed of [0, 1, 2, 3]) {
      const value = sampleOf(name, seed, 0);
      expect(type.deserialize(encode(value))).toEqual(type.deserialize(type.serialize(value)));
    }
    expect(type.deserialize(encode({}))).toEqual(type.deserialize(type.serialize({})));
  });

  it("covers every response of both services", () => {
    expect(responseTypes.size).toBeGreaterThan(30);
  });
});

describe("int64 decimal strings", () => {
  const encoders = new ProtoEncoders(def as never, "runtime.v1");
  const u64 = def["runtime.v1.UInt64Value"] as (typeof def)[string];
  const i64 = def["runtime.v1.Int64Value"] as (typeof def)[string];
  const encodeU = encoders.encoder("UInt64Value");
  const encodeI = encoders.encoder("Int64Value");
  // Every length up to 19 digits, the boundaries of the double-exact fast path, and a seeded random walk.
  const values = new Set<string>(["1", "9", "10", "999999999", "1000000000", "9007199254740991"]);
  for (const s of ["9007199254740992", "9007199254740993", "9007198000000000", "9007197999999999"])
    values.add(s);
  for (const s of ["9223372036854775807", "9223372036854775808", "9999999999999999999", "4294967296"])
    values.add(s);
  for (const s of ["4294967295", "18446744073709551615", "1796011833285785921", "0001", "-42"]) values.add(s);
  let seed = 7n;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
    const digits = 1 + (i % 19);
    values.add((seed % 10n ** BigInt(digits)).toString());
  }

  it("encode as protobufjs encodes them, on both sides of 2^53 and 2^63", () => {
    for (const value of values) {
      expect(u64.deserialize(encodeU({ value })), `uint64 ${value}`).toEqual(
        u64.deserialize(u64.serialize({ value })),
      );
      expect(i64.deserialize(encodeI({ value })), `int64 ${value}`).toEqual(
        i64.deserialize(i64.serialize({ value })),
      );
    }
  });
});

describe("frozen wire objects", () => {
  const encoders = new ProtoEncoders(def as never, "runtime.v1");
  const type = def["runtime.v1.ListContainersResponse"] as (typeof def)[string];
  const encode = encoders.encoder("ListContainersResponse");
  const item = (id: string, state: string, name: string) => ({
    id,
    podSandboxId: "p".repeat(64),
    metadata: { name, attempt: 1 },
    image: { image: "busybox", annotations: {}, userSpecifiedImage: "", runtimeHandler: "" },
    imageRef: "sha256:1",
    imageId: "sha256:1",
    state,
    createdAt: "1796011833285785921",
    // Long enough that the item's length takes two bytes (the writer widens it in place).
    labels: { app: "x".repeat(200) },
    annotations: {},
  });

  it("are written from their kept bytes the next time, equal to a fresh encoding", () => {
    const a = Object.freeze(item("a".repeat(64), "CONTAINER_RUNNING", "€uro"));
    const b = Object.freeze(item("b".repeat(64), "CONTAINER_EXITED", "b"));
    const first = encode({ containers: [a, b] });
    const again = encode({ containers: [a, b] });
    expect(again.equals(first)).toBe(true);
    expect(type.deserialize(again)).toEqual(type.deserialize(type.serialize({ containers: [a, b] })));
    // In another order and beside an item seen for the first time.
    const c = item("c".repeat(64), "CONTAINER_CREATED", "c");
    const mixed = encode({ containers: [b, c, a] });
    expect(type.deserialize(mixed)).toEqual(type.deserialize(type.serialize({ containers: [b, c, a] })));
  });

  it("as a whole answer, come back as the bytes kept from the first time; an answer not frozen never does", () => {
    const a = Object.freeze(item("a".repeat(64), "CONTAINER_RUNNING", "a"));
    const answer = Object.freeze({ containers: [a] });
    const first = encode(answer);
    expect(encode(answer)).toBe(first);
    expect(type.deserialize(first)).toEqual(type.deserialize(type.serialize({ containers: [a] })));
    const open = { containers: [a] };
    const once = encode(open);
    expect(encode(open)).not.toBe(once);
    expect(encode(open).equals(once)).toBe(true);
    // Nothing kept for what is not an object.
    expect(encode(undefined).length).toBe(0);
  });

  it("are the only ones kept: a wire object changed in place is written as it is now", () => {
    const c = item("c".repeat(64), "CONTAINER_RUNNING", "c");
    encode({ containers: [c] });
    c.state = "CONTAINER_EXITED";
    c.labels = { app: "y" };
    expect(type.deserialize(encode({ containers: [c] }))).toEqual(
      type.deserialize(type.serialize({ containers: [c] })),
    );
  });
});
