/**
 * A direct protobuf decoder for the plain requests kubelet sends most (status, list, stop, remove…):
 * from the bytes straight to the same object proto-loader's deserializer makes (protobufjs `decode`
 * then `toObject` with PROTO_LOADER_OPTIONS: defaults filled in, enums by name, absent messages null,
 * maps as objects), without protobufjs's message instance and its copy. Measured in-process: a
 * ContainerStatusRequest in a fraction of protobufjs's time (bench/read-path.ts).
 *
 * Only messages made of strings, bools, enums, map<string, string> and such messages are compiled;
 * any other message keeps protobufjs. And the decoder only answers input it reads without doubt:
 * ASCII strings, each field once, known fields with their own wire type, enum values the .proto
 * names, lengths inside the buffer. Anything else answers PROTO_FALLBACK and protobufjs decodes it,
 * so unusual input (unknown fields, repeated scalars, UTF-8, malformed bytes) keeps protobufjs's
 * exact behaviour and errors.
 */
import type { PackageDefinition } from "@grpc/proto-loader";
import type { EnumDescriptor, FieldDescriptor, MessageDescriptor } from "./_descriptors.js";

/** What a compiled decoder answers for bytes it leaves to protobufjs. */
export const PROTO_FALLBACK: unique symbol = Symbol("protobufjs decodes these bytes");

const STRING = 0;
const BOOL = 1;
const ENUM = 2;
const MESSAGE = 3;
const MAP = 4;

interface FieldPlan {
  readonly key: string;
  readonly kind: number;
  /** Bit of this field in a message's seen-mask (a field twice is left to protobufjs). */
  readonly bit: number;
  /** ENUM: names by number. */
  readonly names: ReadonlyMap<number, string> | undefined;
  /** MESSAGE: its plan, resolved once every plan exists. */
  message: MessagePlan | undefined;
}

interface MessagePlan {
  readonly fields: Map<number, FieldPlan>;
  /** toObject's key order: map fields first, then the others in field order. */
  readonly order: FieldPlan[];
}

type Decoded = Record<string, unknown>;
interface Latin1Sliceable {
  latin1Slice(start: number, end: number): string;
}

/**
 * Compiles decoders for the request messages of one package.
 *
 * @example
 * const decoders = new ProtoDecoders(packageDefinition, "runtime.v1");
 * const decode = decoders.decoder("ContainerStatusRequest"); // undefined when protobufjs must decode it
 * decode?.(bytes); // { containerId: "3f2a…", verbose: false }, or PROTO_FALLBACK
 */
export class ProtoDecoders {
  private readonly plans = new Map<string, MessagePlan | null>();

  constructor(
    private readonly def: PackageDefinition,
    private readonly pkg: string,
  ) {}

  /** The decoder of message `name` (short name), or undefined when it has a field kind we leave to protobufjs. */
  decoder(name: string): ((bytes: Buffer) => unknown) | undefined {
    const plan = this.plan(name, undefined);
    if (plan === null) return undefined;
    return (bytes) => {
      if (!Buffer.isBuffer(bytes)) return PROTO_FALLBACK;
      return readMessage(bytes, 0, bytes.length, plan);
    };
  }

  private plan(typeName: string, scope: MessageDescriptor | undefined): MessagePlan | null {
    const key = `${this.pkg}.${typeName}`;
    const cached = this.plans.get(key);
    if (cached !== undefined) return cached;
    const entry = this.def[key] as { type?: MessageDescriptor } | undefined;
    const desc = scope?.nestedType?.find((n) => n.name === typeName) ?? entry?.type;
    if (desc === undefined || !Array.isArray(desc.field) || (desc.oneofDecl?.length ?? 0) > 0) {
      this.plans.set(key, null);
      return null;
    }
    const plan: MessagePlan = { fields: new Map(), order: [] };
    // Set before the fields: a message that contains itself resolves to this plan.
    this.plans.set(key, plan);
    const maps: FieldPlan[] = [];
    const others: FieldPlan[] = [];
    let bit = 0;
    for (const f of desc.field) {
      const field = this.field(f, desc, bit++);
      if (field === null || bit > 30) {
        this.plans.set(key, null);
        return null;
      }
      plan.fields.set(f.number, field);
      (field.kind === MAP ? maps : others).push(field);
    }
    plan.order.push(...maps, ...others);
    return plan;
  }

  private field(f: FieldDescriptor, owner: MessageDescriptor, bit: number): FieldPlan | null {
    if (f.proto3Optional) return null;
    const repeated = f.label === "LABEL_REPEATED";
    const base = { key: f.name, bit: 1 << bit, names: undefined, message: undefined };
    switch (f.type) {
      case "TYPE_STRING":
        return repeated ? null : { ...base, kind: STRING };
      case "TYPE_BOOL":
        return repeated ? null : { ...base, kind: BOOL };
      case "TYPE_ENUM": {
        if (repeated) return null;
        const e = this.def[`${this.pkg}.${f.typeName}`] as { type?: EnumDescriptor } | undefined;
        if (!e?.type?.value) return null;
        return { ...base, kind: ENUM, names: new Map(e.type.value.map((v) => [v.number, v.name])) };
      }
      case "TYPE_MESSAGE": {
        const nested = owner.nestedType?.find((n) => n.name === f.typeName);
        if (nested?.options?.mapEntry) {
          const [k, v] = [nested.field.find((x) => x.number === 1), nested.field.find((x) => x.number === 2)];
          return repeated && k?.type === "TYPE_STRING" && v?.type === "TYPE_STRING"
            ? { ...base, kind: MAP }
            : null;
        }
        if (repeated) return null;
        const message = this.plan(f.typeName, owner);
        return message === null ? null : { ...base, kind: MESSAGE, message };
      }
      default:
        return null;
    }
  }
}

/** Decodes bytes[start, end) as `plan`, or PROTO_FALLBACK. */
function readMessage(
  bytes: Uint8Array,
  start: number,
  end: number,
  plan: MessagePlan,
): Decoded | typeof PROTO_FALLBACK {
  const out: Decoded = {};
  for (const f of plan.order) {
    switch (f.kind) {
      case STRING:
        out[f.key] = "";
        break;
      case BOOL:
        out[f.key] = false;
        break;
      case ENUM:
        out[f.key] = f.names?.get(0) ?? 0;
        break;
      case MESSAGE:
        out[f.key] = null;
        break;
      case MAP:
        out[f.key] = {};
        break;
    }
  }
  let pos = start;
  let seen = 0;
  while (pos < end) {
    // Tags, lengths and the values we read here all fit in 4 varint bytes (up to 2^28).
    let tag = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= end || shift > 21) return PROTO_FALLBACK;
      b = bytes[pos++] as number;
      tag |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    const f = plan.fields.get(tag >>> 3);
    if (f === undefined) return PROTO_FALLBACK;
    const wire = tag & 7;
    if (f.kind !== MAP) {
      if (seen & f.bit) return PROTO_FALLBACK;
      seen |= f.bit;
    }
    let n = 0;
    shift = 0;
    do {
      if (pos >= end || shift > 21) return PROTO_FALLBACK;
      b = bytes[pos++] as number;
      n |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (f.kind === BOOL || f.kind === ENUM) {
      if (wire !== 0) return PROTO_FALLBACK;
      if (f.kind === BOOL) out[f.key] = n !== 0;
      else {
        const name = f.names?.get(n);
        if (name === undefined) return PROTO_FALLBACK;
        out[f.key] = name;
      }
      continue;
    }
    // Length-delimited: n is the length.
    if (wire !== 2 || n > end - pos) return PROTO_FALLBACK;
    const stop = pos + n;
    if (f.kind === STRING) {
      const s = ascii(bytes, pos, stop);
      if (s === undefined) return PROTO_FALLBACK;
      out[f.key] = s;
    } else if (f.kind === MESSAGE) {
      const sub = readMessage(bytes, pos, stop, f.message as MessagePlan);
      if (sub === PROTO_FALLBACK) return PROTO_FALLBACK;
      out[f.key] = sub;
    } else if (!readEntry(bytes, pos, stop, out[f.key] as Record<string, string>)) {
      return PROTO_FALLBACK;
    }
    pos = stop;
  }
  return out;
}

/** One map<string, string> entry into `map` (a later entry of the same key wins, as in protobufjs). */
function readEntry(bytes: Uint8Array, start: number, end: number, map: Record<string, string>): boolean {
  let key = "";
  let value = "";
  let seen = 0;
  let pos = start;
  while (pos < end) {
    const tag = bytes[pos++] as number;
    if (tag !== 0x0a && tag !== 0x12) return false;
    const bit = tag === 0x0a ? 1 : 2;
    if (seen & bit) return false;
    seen |= bit;
    let n = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= end || shift > 21) return false;
      b = bytes[pos++] as number;
      n |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (n > end - pos) return false;
    const s = ascii(bytes, pos, pos + n);
    if (s === undefined) return false;
    if (tag === 0x0a) key = s;
    else value = s;
    pos += n;
  }
  // protobufjs's plain object would take __proto__ as its prototype, not as a key: leave it that oddity.
  if (key === "__proto__") return false;
  map[key] = value;
  return true;
}

/** bytes[start, end) as a string when every byte is ASCII (then UTF-8 and Latin-1 agree), else undefined. */
function ascii(bytes: Uint8Array, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) if ((bytes[i] as number) > 0x7f) return undefined;
  // Buffer's own Latin-1 slice (no argument checks of toString): the bytes are a Buffer (see decoder()).
  return (bytes as unknown as Latin1Sliceable).latin1Slice(start, end);
}
