/**
 * The direct request decoder (_proto-decode.ts) against protobufjs (proto-loader's deserializer): for
 * every request message it compiles, random requests (ASCII and not, maps, nested messages, enums) and
 * their bytes cut, flipped or extended decode to the same object both ways, or the direct decoder
 * leaves the bytes to protobufjs. Plain requests are never left to it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MessageDescriptor } from "../src/_descriptors.js";
import { PROTO_FALLBACK, ProtoDecoders } from "../src/_proto-decode.js";
import { criServiceDefinitions, loadCriPackageDefinition } from "../src/proto.js";

const def = loadCriPackageDefinition() as unknown as Record<
  string,
  { type: unknown; serialize: (v: unknown) => Buffer; deserialize: (b: Buffer) => unknown }
>;
const decoders = new ProtoDecoders(def as never, "runtime.v1");

const asciiText = fc.string({ maxLength: 70 }).map((s) => s.replace(/[^\x00-\x7f]/g, "a"));
const anyText = fc.oneof(asciiText, fc.string({ unit: "grapheme", maxLength: 8 }));

/** Proto-loader objects of a message type, from its descriptor; `ascii`: only what the direct decoder takes. */
function arb(
  name: string,
  ascii: boolean,
  depth = 0,
  scope?: MessageDescriptor,
): fc.Arbitrary<Record<string, unknown>> {
  const desc =
    scope?.nestedType?.find((n) => n.name === name) ?? (def[`runtime.v1.${name}`]?.type as MessageDescriptor);
  const text = ascii ? asciiText : anyText;
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of desc.field) {
    const nested = desc.nestedType?.find((n) => n.name === f.typeName);
    // A "__proto__" key is deliberately left to protobufjs (tested on its own below), so not "plain".
    if (nested?.options?.mapEntry)
      fields[f.name] = fc.dictionary(
        text.filter((k) => k !== "__proto__"),
        text,
        { maxKeys: 4 },
      );
    else if (f.type === "TYPE_STRING") fields[f.name] = text;
    else if (f.type === "TYPE_BOOL") fields[f.name] = fc.boolean();
    else if (f.type === "TYPE_ENUM") {
      const values = (def[`runtime.v1.${f.typeName}`] as { type: { value: { name: string }[] } }).type.value;
      fields[f.name] = fc.constantFrom(...values.map((v) => v.name));
    } else if (f.type === "TYPE_MESSAGE" && depth < 4)
      fields[f.name] = arb(f.typeName, ascii, depth + 1, desc);
  }
  return fc.record(fields, { requiredKeys: [] });
}

const services = criServiceDefinitions("v1");
const requestTypes = [
  ...new Set(
    [...Object.values(services.RuntimeService), ...Object.values(services.ImageService)].map(
      (m) => (m as unknown as { requestType: { type: { name: string } } }).requestType.type.name,
    ),
  ),
].filter((name) => decoders.decoder(name) !== undefined);

describe("direct request decoder", () => {
  it("compiles the plain requests kubelet sends most", () => {
    for (const name of [
      "ContainerStatusRequest",
      "PodSandboxStatusRequest",
      "ListContainersRequest",
      "ListPodSandboxRequest",
      "ImageStatusRequest",
      "ListImagesRequest",
      "RemoveContainerRequest",
    ]) {
      expect(requestTypes, name).toContain(name);
    }
    // A message with repeated or numeric fields stays with protobufjs.
    expect(decoders.decoder("CreateContainerRequest")).toBeUndefined();
  });

  it.each(requestTypes.map((n) => [n]))("%s: plain requests decode directly, as protobufjs does", (name) => {
    const decode = decoders.decoder(name) as (b: Buffer) => unknown;
    const codec = def[`runtime.v1.${name}`] as (typeof def)[string];
    fc.assert(
      fc.property(arb(name, true), (value) => {
        const bytes = codec.serialize(value);
        const direct = decode(bytes);
        expect(direct).not.toBe(PROTO_FALLBACK);
        expect(direct).toStrictEqual(codec.deserialize(bytes));
      }),
      { numRuns: 60 },
    );
  });

  it("a map key __proto__ is left to protobufjs (a plain object would take it as its prototype)", () => {
    const name = "ListContainersRequest";
    const decode = decoders.decoder(name) as (b: Buffer) => unknown;
    const codec = def[`runtime.v1.${name}`] as (typeof def)[string];
    const labelSelector = Object.defineProperty({ app: "web" }, "__proto__", {
      value: "x",
      enumerable: true,
    });
    const bytes = codec.serialize({ filter: { labelSelector } });
    expect(decode(bytes)).toBe(PROTO_FALLBACK);
  });

  it.each(requestTypes.map((n) => [n]))("%s: any bytes: the same object, or left to protobufjs", (name) => {
    const decode = decoders.decoder(name) as (b: Buffer) => unknown;
    const codec = def[`runtime.v1.${name}`] as (typeof def)[string];
    fc.assert(
      fc.property(
        arb(name, false),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom("cut", "flip", "append", "as-is"),
        fc.uint8Array({ maxLength: 6 }),
        (value, at, byte, how, extra) => {
          let bytes = codec.serialize(value);
          const i = bytes.length === 0 ? 0 : at % bytes.length;
          if (how === "cut") bytes = bytes.subarray(0, i);
          else if (how === "flip" && bytes.length > 0) bytes[i] = byte;
          else if (how === "append") bytes = Buffer.concat([bytes, extra]);
          const direct = decode(bytes);
          if (direct === PROTO_FALLBACK) return;
          expect(direct).toStrictEqual(codec.deserialize(bytes));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("serves the service definitions: a malformed request is still a MalformedWire", () => {
    const m = services.RuntimeService.ContainerStatus as unknown as {
      requestDeserialize: (b: Buffer) => unknown;
    };
    expect(m.requestDeserialize(Buffer.from("0a036162631001", "hex"))).toStrictEqual({
      containerId: "abc",
      verbose: true,
    });
    // Wire type 7 does not exist: protobufjs throws, and the transport hands decodeRequest a MalformedWire.
    expect(m.requestDeserialize(Buffer.from([0x0f]))).toMatchObject({
      reason: expect.stringMatching(/^malformed protobuf/),
    });
  });
});
