/**
 * The description language for CRI messages: one small table per message
 * (domain field name → kind), from which the valibot decoders, the encoders,
 * the wire names of both formats and the test generators are all derived.
 */

/** A proto enum: its value names in number order (index = proto number). */
export interface EnumDef {
  readonly name: string;
  readonly values: readonly string[];
  /** What an error says was expected, e.g. `one of SANDBOX_READY, SANDBOX_NOTREADY`. */
  readonly expects: string;
  /** Maps accepted spellings that are not value names (e.g. `SIGRTMIN+1`) to a value name. */
  readonly alias?: (input: string) => string | undefined;
}

export type Kind =
  | { readonly type: "string" }
  | { readonly type: "int32" }
  | { readonly type: "uint32" }
  /**
   * int64/uint64 held as a JS number in the domain. `jsonString` marks the
   * `value` of Int64Value/UInt64Value, written as a decimal string in JSON.
   */
  | { readonly type: "int64"; readonly unsigned: boolean; readonly jsonString: boolean }
  | { readonly type: "bool" }
  | { readonly type: "bytes" }
  | { readonly type: "enum"; readonly enum: EnumDef }
  /** int64 nanoseconds since the epoch, a bigint in the domain. */
  | { readonly type: "timestamp" }
  /**
   * map<string, string>. `anyValues`: values may hold any string, NUL included
   * (annotations: Kubernetes allows any value there); other request strings may not.
   */
  | { readonly type: "map"; readonly anyValues?: boolean }
  | { readonly type: "message"; readonly message: MessageDef<unknown> }
  | { readonly type: "list"; readonly item: Kind };

/**
 * A rule a decoded field value must keep beyond its kind (sizes, ranges):
 * calls `report` once per problem, with the map key or list index it is
 * about when there is one. Runs only on values that decoded cleanly.
 */
export type Check = (value: never, report: (message: string, at?: string | number) => void) => void;

/** One field of a message, with every name it goes by. */
export interface FieldDef {
  /** Domain (lowerCamelCase) name. */
  readonly name: string;
  readonly kind: Kind;
  /** Optional in the domain type: absent, and proto3 defaults, decode to `undefined`. */
  readonly optional: boolean;
  /** The field name in the CRI .proto. */
  readonly protoName: string;
  /** Key in @grpc/proto-loader objects (protobufjs camelCase of `protoName`). */
  readonly protoKey: string;
  /** Key in the HTTP/JSON API (snake_case of the domain name). */
  readonly jsonKey: string;
  /** Every key accepted on input, in order of preference. */
  readonly inputKeys: readonly string[];
  readonly check?: Check;
}

declare const phantom: unique symbol;

/** A message description; `T` is the domain type it decodes to. */
export interface MessageDef<T> {
  readonly name: string;
  readonly fields: readonly FieldDef[];
  readonly [phantom]?: (value: T) => T;
}

/**
 * The coarse shape of a domain value, used only at compile time so that a
 * description that forgets a field of the cri-types interface, or gives it a
 * kind of the wrong shape, does not typecheck.
 */
type ShapeOf<V> = [V] extends [string]
  ? "string"
  : [V] extends [number]
    ? "number"
    : [V] extends [bigint]
      ? "bigint"
      : [V] extends [boolean]
        ? "boolean"
        : [V] extends [Uint8Array]
          ? "bytes"
          : [V] extends [readonly (infer E)[]]
            ? { list: ShapeOf<E> }
            : string extends keyof V
              ? "map"
              : { message: V };

/** A field kind under construction; `S` is its shape, `O` whether it is optional. */
export interface Field<S, O extends boolean> {
  readonly kind: Kind;
  readonly optional: O;
  readonly protoName?: string;
  readonly check?: Check;
  readonly [phantom]?: (shape: S) => S;
}

export type FieldsOf<T> = {
  [K in keyof T]-?: Field<ShapeOf<NonNullable<T[K]>>, undefined extends T[K] ? true : false>;
};

const field = <S>(kind: Kind): Field<S, false> => ({ kind, optional: false });

export const str: Field<"string", false> = field({ type: "string" });
export const i32: Field<"number", false> = field({ type: "int32" });
export const u32: Field<"number", false> = field({ type: "uint32" });
export const i64: Field<"number", false> = field({ type: "int64", unsigned: false, jsonString: false });
export const u64: Field<"number", false> = field({ type: "int64", unsigned: true, jsonString: false });
export const bool: Field<"boolean", false> = field({ type: "bool" });
export const bytes: Field<"bytes", false> = field({ type: "bytes" });
export const timestamp: Field<"bigint", false> = field({ type: "timestamp" });
export const map: Field<"map", false> = field({ type: "map" });
/** A map whose values may be any string (annotations). */
export const freeMap: Field<"map", false> = field({ type: "map", anyValues: true });

/** The `value` of Int64Value / UInt64Value: a decimal string in JSON, as proto3 JSON writes it. */
export const wrapped = (unsigned: boolean): Field<"number", false> =>
  field({ type: "int64", unsigned, jsonString: true });

export const enumOf = (def: EnumDef): Field<"string", false> => field({ type: "enum", enum: def });

export const msg = <M>(def: MessageDef<M>): Field<{ message: M }, false> =>
  field({ type: "message", message: def as MessageDef<unknown> });

export const list = <S>(item: Field<S, false>): Field<{ list: S }, false> =>
  field({ type: "list", item: item.kind });

export const opt = <S>(f: Field<S, false>): Field<S, true> => ({ ...f, optional: true });

/** Names the CRI proto field explicitly, where protobufjs' camelCase of it is not the domain name. */
export const protoNamed = <S, O extends boolean>(protoName: string, f: Field<S, O>): Field<S, O> => ({
  ...f,
  protoName,
});

/**
 * Adds a rule the field's decoded value must keep.
 *
 * @example
 * const name = checked(str, (v: string, report) => v.length > 253 && report("must be at most 253 characters"));
 */
export const checked = <S, O extends boolean, V>(
  f: Field<S, O>,
  check: (value: V, report: (message: string, at?: string | number) => void) => void,
): Field<S, O> => ({ ...f, check: check as Check });

/** `podSandboxId` → `pod_sandbox_id`. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** protobufjs' camelCase, which @grpc/proto-loader applies when `keepCase` is false: `_x` → `X`. */
export function protobufCamelCase(name: string): string {
  return name.slice(0, 1) + name.slice(1).replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Describes a message.
 *
 * @example
 * const KeyValueDef = message<KeyValue>("KeyValue", { key: str, value: str });
 */
export function message<T>(name: string, fields: FieldsOf<T>): MessageDef<T> {
  const defs: FieldDef[] = [];
  for (const [fieldName, f] of Object.entries(fields) as [string, Field<unknown, boolean>][]) {
    const jsonKey = snakeCase(fieldName);
    const protoName = f.protoName ?? jsonKey;
    const protoKey = protobufCamelCase(protoName);
    const inputKeys = [...new Set([jsonKey, fieldName, protoKey, protoName])];
    defs.push({
      name: fieldName,
      kind: f.kind,
      optional: f.optional,
      protoName,
      protoKey,
      jsonKey,
      inputKeys,
      ...(f.check ? { check: f.check } : {}),
    });
  }
  return { name, fields: defs };
}
