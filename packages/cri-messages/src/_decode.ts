/**
 * Wire → domain: builds valibot schemas from the message descriptions and
 * turns their issues into one CriError naming every bad field path.
 */

import { CriError, type FieldIssue } from "@servin/cri-types";
import * as v from "valibot";
import type { EnumDef, FieldDef, Kind, MessageDef } from "./_schema.js";
import type { WireFormat } from "./codec.js";
import { readInteger, readTimestamp } from "./timestamp.js";

/**
 * Requests are held to more than responses: their strings reach argv, the
 * environment and paths, where a NUL byte would cut them short (and spawn()
 * would throw), so a request string may not hold one. Responses decode as
 * they come.
 */
export type Side = "request" | "response";

const NUL_MESSAGE = "must not contain a NUL byte";

/**
 * Which fields an RPC insists on, as a tree of domain field names: a node
 * present means "required and non-empty"; its children apply inside it.
 */
export interface Requirement {
  readonly [field: string]: Requirement;
}

type AnySchema = v.GenericSchema<unknown, unknown>;
type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

const INT32: readonly [bigint, bigint] = [-(2n ** 31n), 2n ** 31n - 1n];
const UINT32: readonly [bigint, bigint] = [0n, 2n ** 32n - 1n];
const INT64: readonly [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const UINT64: readonly [bigint, bigint] = [0n, 2n ** 64n - 1n];

/** At most this many issues are spelled out in the error message (all go in details up to MAX_DETAILS). */
const MAX_LISTED = 20;
const MAX_DETAILS = 1000;

export function isObjectLike(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

function integerIn(range: readonly [bigint, bigint], message: string): (input: unknown) => Parsed {
  return (input) => {
    const n = readInteger(input);
    if (n === undefined || n < range[0] || n > range[1]) return { ok: false, message };
    // Beyond 2^53 a JS number rounds; the domain holds int64 scalars as numbers by contract.
    return { ok: true, value: Number(n) };
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2})$/;

function readBytes(input: unknown): Parsed {
  if (input instanceof Uint8Array) {
    return { ok: true, value: new Uint8Array(input.buffer, input.byteOffset, input.byteLength) };
  }
  if (typeof input === "string" && BASE64.test(input) && input.length % 4 !== 1) {
    const buf = Buffer.from(input, "base64");
    return { ok: true, value: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) };
  }
  return { ok: false, message: "expected base64-encoded bytes" };
}

function readEnum(def: EnumDef): (input: unknown) => Parsed {
  const names = new Set(def.values);
  const message = `expected ${def.expects}`;
  return (input) => {
    if (typeof input === "string") {
      const name = names.has(input) ? input : def.alias?.(input);
      return name === undefined ? { ok: false, message } : { ok: true, value: name };
    }
    // Numbers follow the CRI .proto numbering (index in `values`).
    if (typeof input === "number" && Number.isInteger(input) && input >= 0 && input < def.values.length) {
      return { ok: true, value: def.values[input] };
    }
    return { ok: false, message };
  };
}

function scalar(parse: (input: unknown) => Parsed): AnySchema {
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const result = parse(dataset.value);
      if (result.ok) return result.value;
      addIssue({ message: result.message });
      return NEVER;
    }),
  );
}

/**
 * map<string, string>, copied into a null-prototype object so that keys like `__proto__` stay plain data.
 * `nulFree`: keys (and values unless `anyValues`) may not hold NUL.
 */
function mapSchema(nulFree: boolean, anyValues: boolean): AnySchema {
  return v.pipe(
    v.custom<Record<string, unknown>>(isObjectLike, "expected an object of string values"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const input = dataset.value;
      const out: Record<string, string> = Object.create(null);
      let bad = false;
      for (const key of Object.keys(input)) {
        const value = input[key];
        const problem =
          typeof value !== "string"
            ? "expected string"
            : nulFree && key.includes("\0")
              ? `key ${NUL_MESSAGE}`
              : nulFree && !anyValues && value.includes("\0")
                ? NUL_MESSAGE
                : undefined;
        if (problem === undefined) {
          out[key] = value as string;
        } else {
          bad = true;
          addIssue({ message: problem, path: [{ type: "object", origin: "value", input, key, value }] });
        }
      }
      return bad ? NEVER : out;
    }),
  );
}

const nulFreeString: AnySchema = v.pipe(
  v.string("expected string"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (dataset.typed && dataset.value.includes("\0")) addIssue({ message: NUL_MESSAGE });
  }),
) as AnySchema;

const kindCache = new Map<string, AnySchema>();

function kindSchema(kind: Kind, side: Side): AnySchema {
  switch (kind.type) {
    case "message":
      return messageSchema(kind.message, side);
    case "list":
      return v.array(kindSchema(kind.item, side), "expected an array");
    case "map": {
      const key = `map:${side}:${kind.anyValues === true}`;
      let schema = kindCache.get(key);
      if (!schema) {
        schema = mapSchema(side === "request", kind.anyValues === true);
        kindCache.set(key, schema);
      }
      return schema;
    }
    case "string":
      return side === "request" ? nulFreeString : scalarSchema(kind);
    case "enum": {
      const key = `enum:${kind.enum.name}`;
      let schema = kindCache.get(key);
      if (!schema) {
        schema = scalar(readEnum(kind.enum));
        kindCache.set(key, schema);
      }
      return schema;
    }
    default: {
      const key = kind.type === "int64" ? `int64:${kind.unsigned}` : kind.type;
      let schema = kindCache.get(key);
      if (!schema) {
        schema = scalarSchema(kind);
        kindCache.set(key, schema);
      }
      return schema;
    }
  }
}

function scalarSchema(kind: Kind): AnySchema {
  switch (kind.type) {
    case "string":
      return v.string("expected string");
    case "bool":
      return v.boolean("expected a boolean");
    case "int32":
      return scalar(integerIn(INT32, "expected a 32-bit integer"));
    case "uint32":
      return scalar(integerIn(UINT32, "expected an unsigned 32-bit integer"));
    case "int64":
      return kind.unsigned
        ? scalar(integerIn(UINT64, "expected an unsigned 64-bit integer (number or decimal string)"))
        : scalar(integerIn(INT64, "expected a 64-bit integer (number or decimal string)"));
    case "bytes":
      return scalar(readBytes);
    case "timestamp":
      return scalar((input) => readTimestamp(input));
    default:
      throw new Error(`not a scalar kind: ${kind.type}`);
  }
}

/** The value a field of this kind has when absent from the wire (proto3 defaults). */
export function defaultValue(kind: Kind): unknown {
  switch (kind.type) {
    case "string":
      return "";
    case "int32":
    case "uint32":
    case "int64":
      return 0;
    case "bool":
      return false;
    case "bytes":
      return new Uint8Array(0);
    case "enum":
      return kind.enum.values[0];
    case "timestamp":
      return 0n;
    case "map":
      return Object.create(null);
    case "list":
      return [];
    case "message":
      return defaultMessage(kind.message);
  }
}

function defaultMessage(def: MessageDef<unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of def.fields) if (!f.optional) out[f.name] = defaultValue(f.kind);
  return out;
}

/** True when `value` is the proto3 default of its kind (which the CRI treats as "not set"). */
export function isDefault(kind: Kind, value: unknown): boolean {
  switch (kind.type) {
    case "string":
      return value === "";
    case "int32":
    case "uint32":
    case "int64":
      return value === 0;
    case "bool":
      return value === false;
    case "bytes":
      return value instanceof Uint8Array && value.byteLength === 0;
    case "enum":
      return value === kind.enum.values[0];
    case "timestamp":
      return value === 0n;
    case "map":
      return isObjectLike(value) && Object.keys(value).length === 0;
    case "list":
      return Array.isArray(value) && value.length === 0;
    case "message":
      return false;
  }
}

/** Builds the domain object from what v.object kept, taking the first casing present of each field. */
function toDomain(def: MessageDef<unknown>, wire: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of def.fields) {
    let value: unknown;
    for (const key of f.inputKeys) {
      const candidate = wire[key];
      if (candidate !== undefined && candidate !== null) {
        value = candidate;
        break;
      }
    }
    if (value === undefined) {
      if (!f.optional) out[f.name] = defaultValue(f.kind);
    } else if (!(f.optional && isDefault(f.kind, value))) {
      out[f.name] = value;
    }
  }
  return out;
}

/** Empty for a required field: absent, null, "" or []. A value of the wrong type is not "empty" (it has its own issue). */
function isMissing(kind: Kind, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  if (kind.type === "string") return value === "";
  if (kind.type === "list") return Array.isArray(value) && value.length === 0;
  return false;
}

function missingMessage(kind: Kind): string {
  if (kind.type === "string") return "expected a non-empty string";
  if (kind.type === "list") return "expected a non-empty array";
  if (kind.type === "message") return "expected an object";
  return "required";
}

/** The key to name a missing field by: the one the client wrote (empty), else the casing of its neighbours. */
function missingKey(f: FieldDef, wire: Record<string, unknown>, format: WireFormat): string {
  const written = f.inputKeys.find((key) => Object.hasOwn(wire, key));
  if (written !== undefined) return written;
  if (format === "proto") return f.protoKey;
  return Object.keys(wire).some((k) => /[A-Z]/.test(k)) ? f.name : f.jsonKey;
}

const plainSchemas = { request: new WeakMap<MessageDef<unknown>, AnySchema>(), response: new WeakMap() };

/** The schema of a message with no RPC-specific requirements (cached; format-independent). */
export function messageSchema(def: MessageDef<unknown>, side: Side): AnySchema {
  let schema = plainSchemas[side].get(def);
  if (!schema) {
    schema = buildMessageSchema(def, undefined, "json", side);
    plainSchemas[side].set(def, schema);
  }
  return schema;
}

/** Runs a field's extra rule on a value that decoded cleanly; issues name the map key or list index. */
function withCheck(inner: AnySchema, check: NonNullable<FieldDef["check"]>): AnySchema {
  return v.pipe(
    inner,
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed || dataset.issues) return;
      const value = dataset.value;
      (check as (value: unknown, report: (message: string, at?: string | number) => void) => void)(
        value,
        (message, at) =>
          addIssue(
            at === undefined
              ? { message }
              : typeof at === "number"
                ? {
                    message,
                    path: [{ type: "array", origin: "value", input: [], key: at, value: undefined }],
                  }
                : {
                    message,
                    path: [{ type: "object", origin: "value", input: {}, key: at, value: undefined }],
                  },
          ),
      );
    }),
  ) as AnySchema;
}

/**
 * The schema of a message under an RPC's requirements. Every casing of a
 * field is its own entry, so that issue paths name the key the client wrote.
 */
export function buildMessageSchema(
  def: MessageDef<unknown>,
  requirement: Requirement | undefined,
  format: WireFormat,
  side: Side,
): AnySchema {
  const entries: Record<string, AnySchema> = {};
  const required: FieldDef[] = [];
  for (const f of def.fields) {
    const sub = requirement && Object.hasOwn(requirement, f.name) ? requirement[f.name] : undefined;
    if (sub) required.push(f);
    const inner =
      sub && f.kind.type === "message" && Object.keys(sub).length > 0
        ? buildMessageSchema(f.kind.message, sub, format, side)
        : kindSchema(f.kind, side);
    const entry = v.nullish(f.check ? withCheck(inner, f.check) : inner);
    for (const key of f.inputKeys) entries[key] = entry;
  }
  const items: unknown[] = [v.custom(isObjectLike, "expected an object"), v.object(entries)];
  if (required.length > 0) {
    // A validation action: it runs even when sibling fields have issues, so
    // that one error lists every problem of the request at once.
    items.push(
      v.rawCheck(({ dataset, addIssue }) => {
        const wire = dataset.value;
        if (!isObjectLike(wire)) return;
        for (const f of required) {
          if (f.inputKeys.every((key) => isMissing(f.kind, wire[key]))) {
            addIssue({
              message: missingMessage(f.kind),
              path: [
                {
                  type: "object",
                  origin: "value",
                  input: wire,
                  key: missingKey(f, wire, format),
                  value: undefined,
                },
              ],
            });
          }
        }
      }),
    );
  }
  items.push(v.rawTransform(({ dataset }) => toDomain(def, dataset.value as Record<string, unknown>)));
  return (v.pipe as unknown as (...pipe: unknown[]) => AnySchema)(...items);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `config.labels.app`, `config.envs[0].key`, `config.labels["app.kubernetes.io/name"]`. */
export function formatPath(path: readonly { key: unknown }[] | undefined, root: string): string {
  let out = "";
  for (const item of path ?? []) {
    const key = item.key;
    if (typeof key === "number") {
      out += `[${key}]`;
    } else {
      const text = String(key);
      const shown = text.length > 64 ? `${text.slice(0, 64)}…` : text;
      // A long key is shown cut, in brackets: an error message never grows with the input.
      out +=
        text === shown && IDENTIFIER.test(text) ? (out ? `.${text}` : text) : `[${JSON.stringify(shown)}]`;
    }
  }
  return out || root;
}

/**
 * Runs a schema over wire input; on failure throws one CriError with `code`
 * whose message lists every offending path and whose details hold them all.
 */
export function decodeWith(
  schema: AnySchema,
  wire: unknown,
  root: string,
  code: "InvalidArgument" | "Internal",
): unknown {
  const result = v.safeParse(schema, wire, { abortEarly: false });
  if (result.success) return result.output;
  const fields: FieldIssue[] = result.issues
    .slice(0, MAX_DETAILS)
    .map((issue) => ({ path: formatPath(issue.path, root), message: issue.message }));
  const listed = fields.slice(0, MAX_LISTED).map((f) => `${f.path}: ${f.message}`);
  const more = result.issues.length - listed.length;
  const message = more > 0 ? `${listed.join("; ")}; and ${more} more` : listed.join("; ");
  throw new CriError(code, message, { details: { fields } });
}

/** What a fast decoder answers for anything it does not plainly accept: the valibot schema then decides. */
export const FAST_FAIL: unique symbol = Symbol("fast decode: not plainly valid");
/** Wire → domain for plainly valid input, FAST_FAIL otherwise (never throws on data, never reports). */
export type FastDecoder = (input: unknown) => unknown;

const fastMessages = { request: new WeakMap<MessageDef<unknown>, FastDecoder>(), response: new WeakMap() };
const fastKinds = new Map<string, FastDecoder>();

function fastParsed(parse: (input: unknown) => Parsed): FastDecoder {
  return (input) => {
    const result = parse(input);
    return result.ok ? result.value : FAST_FAIL;
  };
}

function fastMap(nulFree: boolean, anyValues: boolean): FastDecoder {
  return (input) => {
    if (!isObjectLike(input)) return FAST_FAIL;
    const out: Record<string, string> = Object.create(null);
    for (const key of Object.keys(input)) {
      const value = input[key];
      if (typeof value !== "string") return FAST_FAIL;
      if (nulFree && (key.includes("\0") || (!anyValues && value.includes("\0")))) return FAST_FAIL;
      out[key] = value;
    }
    return out;
  };
}

function fastKind(kind: Kind, side: Side): FastDecoder {
  switch (kind.type) {
    case "message":
      return fastDecoder(kind.message, undefined, side);
    case "list": {
      const item = fastKind(kind.item, side);
      return (input) => {
        if (!Array.isArray(input)) return FAST_FAIL;
        const out = new Array<unknown>(input.length);
        for (let i = 0; i < input.length; i++) {
          const value = item(input[i]);
          if (value === FAST_FAIL) return FAST_FAIL;
          out[i] = value;
        }
        return out;
      };
    }
    case "map":
      return fastMap(side === "request", kind.anyValues === true);
    case "string":
      return side === "request"
        ? (input) => (typeof input === "string" && !input.includes("\0") ? input : FAST_FAIL)
        : (input) => (typeof input === "string" ? input : FAST_FAIL);
    case "bool":
      return (input) => (typeof input === "boolean" ? input : FAST_FAIL);
    default: {
      const key =
        kind.type === "enum"
          ? `enum:${kind.enum.name}`
          : kind.type === "int64"
            ? `int64:${kind.unsigned}`
            : kind.type;
      let fast = fastKinds.get(key);
      if (!fast) {
        fast = fastParsed(fastScalar(kind));
        fastKinds.set(key, fast);
      }
      return fast;
    }
  }
}

function fastScalar(kind: Kind): (input: unknown) => Parsed {
  switch (kind.type) {
    case "enum":
      return readEnum(kind.enum);
    case "int32":
      return integerIn(INT32, "");
    case "uint32":
      return integerIn(UINT32, "");
    case "int64":
      return integerIn(kind.unsigned ? UINT64 : INT64, "");
    case "bytes":
      return readBytes;
    case "timestamp":
      return (input) => readTimestamp(input);
    default:
      throw new Error(`not a scalar kind: ${kind.type}`);
  }
}

interface FastField {
  readonly f: FieldDef;
  readonly name: string;
  readonly keys: readonly string[];
  readonly inner: FastDecoder;
  readonly required: boolean;
  readonly check: ((value: unknown, report: () => void) => void) | undefined;
}

/**
 * The fast decoder of a message under an RPC's requirements: the same domain object as
 * buildMessageSchema's for input that passes it, built by plain code (a status request in well
 * under a microsecond instead of several through valibot). Anything unusual — a bad value, a
 * missing required field, two casings of one field, a failed check — answers FAST_FAIL, and the
 * caller runs the valibot schema, which names every problem (codec.ts). Cached per message and side
 * when there are no requirements.
 */
export function fastDecoder(
  def: MessageDef<unknown>,
  requirement: Requirement | undefined,
  side: Side,
): FastDecoder {
  if (requirement === undefined) {
    const cached = fastMessages[side].get(def);
    if (cached) return cached;
  }
  // Filled after the cache entry exists, so that recursive messages find themselves.
  const fields: FastField[] = [];
  const decoder: FastDecoder = (input) => {
    if (!isObjectLike(input)) return FAST_FAIL;
    const out: Record<string, unknown> = {};
    for (const ff of fields) {
      let raw: unknown;
      for (const key of ff.keys) {
        const candidate = input[key];
        if (candidate !== undefined && candidate !== null) {
          if (raw !== undefined) return FAST_FAIL;
          raw = candidate;
        }
      }
      if (raw === undefined) {
        if (ff.required) return FAST_FAIL;
        if (!ff.f.optional) out[ff.name] = defaultValue(ff.f.kind);
        continue;
      }
      const value = ff.inner(raw);
      if (value === FAST_FAIL) return FAST_FAIL;
      if (ff.required && isMissing(ff.f.kind, value)) return FAST_FAIL;
      if (ff.check !== undefined) {
        let bad = false;
        ff.check(value, () => {
          bad = true;
        });
        if (bad) return FAST_FAIL;
      }
      if (!(ff.f.optional && isDefault(ff.f.kind, value))) out[ff.name] = value;
    }
    return out;
  };
  if (requirement === undefined) fastMessages[side].set(def, decoder);
  for (const f of def.fields) {
    const sub = requirement && Object.hasOwn(requirement, f.name) ? requirement[f.name] : undefined;
    fields.push({
      f,
      name: f.name,
      keys: f.inputKeys,
      inner:
        sub && f.kind.type === "message" && Object.keys(sub).length > 0
          ? fastDecoder(f.kind.message, sub, side)
          : fastKind(f.kind, side),
      required: sub !== undefined,
      check: f.check as FastField["check"],
    });
  }
  return decoder;
}
