/**
 * A tiny protobuf wire-format reader and writer, written independently of
 * protobufjs, so that tests can check the bytes our .proto produces against
 * the field numbers of the public CRI.
 */

export type WireValue =
  | { wireType: 0; varint: bigint }
  | { wireType: 1; fixed64: Uint8Array }
  | { wireType: 2; bytes: Uint8Array }
  | { wireType: 5; fixed32: Uint8Array };

export type Fields = Map<number, WireValue[]>;

function readVarint(buf: Uint8Array, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const byte = buf[pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7n;
    if (shift > 63n) throw new Error("varint too long");
  }
}

/** Splits one message into its fields, by number (repeated fields keep their order). */
export function readFields(buf: Uint8Array): Fields {
  const fields: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = Number(tag >> 3n);
    const wireType = Number(tag & 7n);
    let value: WireValue;
    if (wireType === 0) {
      const [v, next] = readVarint(buf, pos);
      value = { wireType: 0, varint: v };
      pos = next;
    } else if (wireType === 1) {
      value = { wireType: 1, fixed64: buf.subarray(pos, pos + 8) };
      pos += 8;
    } else if (wireType === 2) {
      const [len, next] = readVarint(buf, pos);
      const end = next + Number(len);
      if (end > buf.length) throw new Error(`field ${field}: length ${len} past the end`);
      value = { wireType: 2, bytes: buf.subarray(next, end) };
      pos = end;
    } else if (wireType === 5) {
      value = { wireType: 5, fixed32: buf.subarray(pos, pos + 4) };
      pos += 4;
    } else {
      throw new Error(`field ${field}: unsupported wire type ${wireType}`);
    }
    const list = fields.get(field) ?? [];
    list.push(value);
    fields.set(field, list);
  }
  return fields;
}

function one(fields: Fields, n: number): WireValue {
  const list = fields.get(n);
  if (!list || list.length === 0)
    throw new Error(`field ${n} is absent (present: ${[...fields.keys()].join(",")})`);
  return list[list.length - 1]!;
}

function len(fields: Fields, n: number): Uint8Array {
  const v = one(fields, n);
  if (v.wireType !== 2) throw new Error(`field ${n}: expected length-delimited, got wire type ${v.wireType}`);
  return v.bytes;
}

/** Field `n` as a UTF-8 string. */
export const str = (fields: Fields, n: number): string => new TextDecoder().decode(len(fields, n));
/** Field `n` as raw bytes. */
export const bytes = (fields: Fields, n: number): Uint8Array => len(fields, n);
/** Field `n` as an embedded message. */
export const msg = (fields: Fields, n: number): Fields => readFields(len(fields, n));
/** Every occurrence of field `n` as embedded messages. */
export const msgs = (fields: Fields, n: number): Fields[] =>
  (fields.get(n) ?? []).map((v) => {
    if (v.wireType !== 2) throw new Error(`field ${n}: expected length-delimited`);
    return readFields(v.bytes);
  });
/** Every occurrence of field `n` as strings (repeated string). */
export const strs = (fields: Fields, n: number): string[] =>
  (fields.get(n) ?? []).map((v) => {
    if (v.wireType !== 2) throw new Error(`field ${n}: expected length-delimited`);
    return new TextDecoder().decode(v.bytes);
  });
/** Field `n` as an unsigned varint. */
export function varint(fields: Fields, n: number): bigint {
  const v = one(fields, n);
  if (v.wireType !== 0) throw new Error(`field ${n}: expected varint, got wire type ${v.wireType}`);
  return v.varint;
}
/** Field `n` as an unsigned varint, 0 when absent (proto3 may or may not write a zero value). */
export const varintOr0 = (fields: Fields, n: number): bigint => (fields.has(n) ? varint(fields, n) : 0n);
/** Field `n` as a signed 64-bit varint (int64/int32 two's complement). */
export const int = (fields: Fields, n: number): bigint => BigInt.asIntN(64, varint(fields, n));
/** A packed repeated varint field (proto3 default for repeated scalars). */
export function packed(fields: Fields, n: number): bigint[] {
  const out: bigint[] = [];
  for (const v of fields.get(n) ?? []) {
    if (v.wireType === 0) out.push(v.varint);
    else if (v.wireType === 2) {
      let pos = 0;
      while (pos < v.bytes.length) {
        const [x, next] = readVarint(v.bytes, pos);
        out.push(x);
        pos = next;
      }
    }
  }
  return out;
}
/** A map<string,string> field: entries are messages with key = 1 and value = 2. */
export function stringMap(fields: Fields, n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of msgs(fields, n)) out[str(entry, 1)] = str(entry, 2);
  return out;
}

// ---- writer (to feed hand-made bytes to our deserializers) ----

function varintBytes(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** Builds a message from [field, value] pairs: bigint/number/boolean → varint, string/bytes/nested → length-delimited. */
export function writeMessage(
  entries: [number, bigint | number | boolean | string | Uint8Array][],
): Uint8Array {
  const out: number[] = [];
  for (const [field, value] of entries) {
    if (typeof value === "bigint" || typeof value === "number" || typeof value === "boolean") {
      out.push(...varintBytes(BigInt(field) << 3n), ...varintBytes(BigInt(value)));
    } else {
      const data = typeof value === "string" ? new TextEncoder().encode(value) : value;
      out.push(...varintBytes((BigInt(field) << 3n) | 2n), ...varintBytes(BigInt(data.length)), ...data);
    }
  }
  return Uint8Array.from(out);
}
