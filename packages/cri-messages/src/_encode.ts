/**
 * Domain → wire: snake_case JSON for the HTTP API, or the objects
 * @grpc/proto-loader serialises (lowerCamelCase, int64 as strings, defaults filled).
 */
import { isDefault, isObjectLike } from "./_decode.js";
import type { Kind, MessageDef } from "./_schema.js";
import type { WireFormat } from "./codec.js";
import { formatRfc3339Nanos } from "./timestamp.js";

/** An int64 as a decimal string; numbers beyond 2^53 print the integer they hold exactly. */
function int64String(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number" && Number.isFinite(value)) return BigInt(Math.trunc(value)).toString();
  if (typeof value === "string" && /^[+-]?\d+$/.test(value)) return BigInt(value).toString();
  return "0";
}

function toBigInt(value: unknown): bigint {
  if (typeof value === "bigint") return value;
  return BigInt(int64String(value));
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function enumName(kind: Extract<Kind, { type: "enum" }>, value: unknown): string {
  const name = String(value);
  if (kind.enum.values.includes(name)) return name;
  return kind.enum.alias?.(name) ?? name;
}

function copyMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (!isObjectLike(value)) return out;
  for (const key of Object.keys(value)) out[key] = String(value[key]);
  return out;
}

/** The proto3 default of a kind, as proto-loader's `defaults: true` presents it. */
function protoDefault(kind: Kind): unknown {
  switch (kind.type) {
    case "string":
      return "";
    case "int32":
    case "uint32":
      return 0;
    case "int64":
    case "timestamp":
      return "0";
    case "bool":
      return false;
    case "bytes":
      return Buffer.alloc(0);
    case "enum":
      return kind.enum.values[0];
    case "map":
      return Object.create(null);
    case "list":
      return [];
    case "message":
      return null;
  }
}

type MessageEncoder = (
  def: MessageDef<unknown>,
  value: unknown,
  format: WireFormat,
) => Record<string, unknown>;

function encodeValue(
  kind: Kind,
  value: unknown,
  format: WireFormat,
  message: MessageEncoder = encodeMessage,
): unknown {
  switch (kind.type) {
    case "string":
      return String(value);
    case "int32":
    case "uint32":
      return Number(value);
    case "int64":
      return format === "proto" || kind.jsonString ? int64String(value) : Number(value);
    case "bool":
      return Boolean(value);
    case "bytes": {
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(0);
      return format === "proto" ? asBuffer(bytes) : asBuffer(bytes).toString("base64");
    }
    case "enum":
      return enumName(kind, value);
    case "timestamp":
      return format === "proto" ? int64String(value) : formatRfc3339Nanos(toBigInt(value));
    case "map":
      return copyMap(value);
    case "list":
      return Array.isArray(value) ? value.map((item) => encodeValue(kind.item, item, format, message)) : [];
    case "message":
      return message(kind.message, value, format);
  }
}

type CompiledEncoder = (src: Record<string, unknown>) => Record<string, unknown>;

/** One compiled encoder per message and format, made at its first use. */
const compiled = new WeakMap<
  MessageDef<unknown>,
  {
    json?: CompiledEncoder;
    proto?: CompiledEncoder;
    /** What frozen domain objects encoded to (frozen too): they never change, so neither does their encoding. */
    jsonOfFrozen?: WeakMap<object, Record<string, unknown>>;
    protoOfFrozen?: WeakMap<object, Record<string, unknown>>;
  }
>();

/**
 * Compiles the encoder of one message in one format: straight-line code with the field names as
 * constants (from the schema tables, never from input), so that every property read and write in
 * it sees one shape, instead of one loop whose keyed accesses see every message of the API. Same
 * output as the loop it replaces (`encodeMessageLoop`, which the tests compare it with).
 */
function compile(def: MessageDef<unknown>, format: WireFormat): CompiledEncoder {
  const kinds = def.fields.map((f) => f.kind);
  const lines: string[] = [];
  const value = (i: number, x: string): string => {
    switch (kinds[i]?.type) {
      case "string":
        return `String(${x})`;
      case "int32":
      case "uint32":
        return `Number(${x})`;
      case "bool":
        return `Boolean(${x})`;
      default:
        return `encodeValue(K[${i}], ${x}, F)`;
    }
  };
  def.fields.forEach((f, i) => {
    lines.push(`const x${i} = src[${JSON.stringify(f.name)}];`);
  });
  if (format === "proto") {
    const props = def.fields.map(
      (f, i) =>
        `${JSON.stringify(f.protoKey)}: x${i} === undefined || x${i} === null ? protoDefault(K[${i}]) : ${value(i, `x${i}`)}`,
    );
    lines.push(`return { ${props.join(", ")} };`);
  } else {
    lines.push("const out = {};");
    def.fields.forEach((f, i) => {
      const skip = [`x${i} === undefined`, `x${i} === null`];
      if (f.optional) skip.push(`isDefault(K[${i}], x${i})`);
      if (f.kind.type === "timestamp") skip.push(`toBigInt(x${i}) === 0n`);
      lines.push(`if (!(${skip.join(" || ")})) out[${JSON.stringify(f.jsonKey)}] = ${value(i, `x${i}`)};`);
    });
    lines.push("return out;");
  }
  const make = new Function(
    "K",
    "F",
    "encodeValue",
    "protoDefault",
    "isDefault",
    "toBigInt",
    `return function encode${def.name.replace(/\W/g, "")}(src) {\n${lines.join("\n")}\n};`,
  ) as (...args: unknown[]) => CompiledEncoder;
  return make(kinds, format, encodeValue, protoDefault, isDefault, toBigInt);
}

/**
 * Encodes a domain message. JSON omits absent fields, optional fields at
 * their proto3 default and zero timestamps; proto fills every field (absent
 * messages as null), as proto-loader does with `defaults: true`. A frozen
 * value is encoded once and answered from a cache after that (its wire
 * object is frozen as well): freeze only what is never changed, nested parts included.
 */
export function encodeMessage(
  def: MessageDef<unknown>,
  value: unknown,
  format: WireFormat,
): Record<string, unknown> {
  let byFormat = compiled.get(def);
  if (!byFormat) {
    byFormat = {};
    compiled.set(def, byFormat);
  }
  let encoder = byFormat[format];
  if (!encoder) {
    encoder = compile(def, format);
    byFormat[format] = encoder;
  }
  if (!isObjectLike(value)) return encoder({});
  if (!Object.isFrozen(value)) return encoder(value);
  // A frozen domain object (runtime-core's views of an unchanged container or pod) is encoded once:
  // the frozen wire object lets the protobuf writer cache its bytes in turn.
  const cache = format === "proto" ? byFormat.protoOfFrozen : byFormat.jsonOfFrozen;
  const hit = cache?.get(value);
  if (hit) return hit;
  const wire = Object.freeze(encoder(value));
  if (cache) cache.set(value, wire);
  else if (format === "proto") byFormat.protoOfFrozen = new WeakMap([[value, wire]]);
  else byFormat.jsonOfFrozen = new WeakMap([[value, wire]]);
  return wire;
}

/** The reference encoder (a loop over the fields): what `encodeMessage` compiles, kept for the tests. */
export function encodeMessageLoop(
  def: MessageDef<unknown>,
  value: unknown,
  format: WireFormat,
): Record<string, unknown> {
  const src = isObjectLike(value) ? value : {};
  const out: Record<string, unknown> = {};
  for (const f of def.fields) {
    const x = src[f.name];
    const absent = x === undefined || x === null;
    if (format === "json") {
      if (absent || (f.optional && isDefault(f.kind, x))) continue;
      if (f.kind.type === "timestamp" && toBigInt(x) === 0n) continue;
      out[f.jsonKey] = encodeValue(f.kind, x, format, encodeMessageLoop);
    } else {
      out[f.protoKey] = absent ? protoDefault(f.kind) : encodeValue(f.kind, x, format, encodeMessageLoop);
    }
  }
  return out;
}
