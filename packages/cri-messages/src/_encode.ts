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

function encodeValue(kind: Kind, value: unknown, format: WireFormat): unknown {
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
      return Array.isArray(value) ? value.map((item) => encodeValue(kind.item, item, format)) : [];
    case "message":
      return encodeMessage(kind.message, value, format);
  }
}

/**
 * Encodes a domain message. JSON omits absent fields, optional fields at
 * their proto3 default and zero timestamps; proto fills every field (absent
 * messages as null), as proto-loader does with `defaults: true`.
 */
export function encodeMessage(
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
      out[f.jsonKey] = encodeValue(f.kind, x, format);
    } else {
      out[f.protoKey] = absent ? protoDefault(f.kind) : encodeValue(f.kind, x, format);
    }
  }
  return out;
}
