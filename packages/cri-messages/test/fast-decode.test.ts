/**
 * The fast decoders (plain code for plainly valid input) against the valibot schemas they stand in
 * front of: whatever a fast decoder accepts, the schema accepts too and decodes to the same domain
 * object; what it refuses, the schema judges (and names every problem).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildMessageSchema, decodeWith, FAST_FAIL, fastDecoder, messageSchema } from "../src/_decode.js";
import type { MessageDef } from "../src/_schema.js";
import { decodeRequest, encodeRequest, type WireFormat } from "../src/codec.js";
import { type RequestOf, RPC_NAMES, RPCS, type RpcName } from "../src/rpcs.js";
import { domainArb } from "./arbitraries.js";

const def = (d: unknown) => d as MessageDef<unknown>;
const FORMATS: WireFormat[] = ["json", "proto"];
const wireOf = (wire: unknown, format: WireFormat) =>
  format === "json" ? JSON.parse(JSON.stringify(wire)) : wire;

function slow(rpc: RpcName, format: WireFormat, wire: unknown): { ok: true; value: unknown } | { ok: false } {
  const spec = RPCS[rpc] as { request: unknown; requires?: Parameters<typeof buildMessageSchema>[1] };
  const schema = spec.requires
    ? buildMessageSchema(def(spec.request), spec.requires, format, "request")
    : messageSchema(def(spec.request), "request");
  try {
    return { ok: true, value: decodeWith(schema, wire, "request", "InvalidArgument") };
  } catch {
    return { ok: false };
  }
}

const fastOf = (rpc: RpcName) =>
  fastDecoder(def(RPCS[rpc].request), (RPCS[rpc] as { requires?: never }).requires, "request");

/** A value of any shape a hostile or sloppy client could put in a field. */
const junk = fc.oneof(
  fc.anything(),
  fc.constantFrom("", "\0", "a\0b", [], [""], {}, { "a\0": "b" }, { a: 1 }, -1, 2 ** 40, "12", true),
);

describe.each(FORMATS)("fast request decoders (%s)", (format) => {
  it.each(RPC_NAMES.map((rpc) => [rpc]))("%s: valid requests decode fast, as the schema does", (rpc) => {
    const spec = RPCS[rpc];
    const fast = fastOf(rpc);
    fc.assert(
      fc.property(domainArb(def(spec.request), spec.requires), (value) => {
        const wire = wireOf(encodeRequest(rpc, value as RequestOf<typeof rpc>, format), format);
        const decoded = fast(wire);
        expect(decoded).not.toBe(FAST_FAIL);
        expect(slow(rpc, format, wire)).toStrictEqual({ ok: true, value: decoded });
      }),
      { numRuns: 30 },
    );
  });

  it.each(RPC_NAMES.map((rpc) => [rpc]))("%s: a field changed to anything: fast agrees or defers", (rpc) => {
    const spec = RPCS[rpc];
    const fields = def(spec.request).fields;
    if (fields.length === 0) return;
    const fast = fastOf(rpc);
    fc.assert(
      fc.property(
        domainArb(def(spec.request), spec.requires),
        fc.constantFrom(...fields),
        fc.boolean(),
        junk,
        (value, field, snake, replacement) => {
          const wire = wireOf(encodeRequest(rpc, value as RequestOf<typeof rpc>, format), format);
          const key = snake ? field.jsonKey : field.protoKey;
          (wire as Record<string, unknown>)[key] = replacement;
          const decoded = fast(wire);
          if (decoded === FAST_FAIL) return;
          expect(slow(rpc, format, wire)).toStrictEqual({ ok: true, value: decoded });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("decodeRequest", () => {
  it("answers the same error with the fast path in front (a bad field is still named)", () => {
    expect(() => decodeRequest("containerStatus", { containerId: "a\0b", verbose: false }, "proto")).toThrow(
      /containerId: must not contain a NUL byte/,
    );
    expect(() => decodeRequest("containerStatus", { containerId: "", verbose: false }, "proto")).toThrow(
      /containerId: expected a non-empty string/,
    );
    expect(() => decodeRequest("listContainers", { filter: { labelSelector: { a: 1 } } }, "proto")).toThrow(
      /filter\.labelSelector\.a: expected string/,
    );
  });

  it("decodes both casings of one field as the schema does", () => {
    const req = decodeRequest("containerStatus", { containerId: "abc", container_id: "abc" }, "json");
    expect(req).toStrictEqual({ containerId: "abc" });
  });
});
