import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { MessageDef } from "../src/_schema.js";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type WireFormat,
} from "../src/codec.js";
import { type RequestOf, type ResponseOf, RPC_NAMES, RPCS, type RpcName } from "../src/rpcs.js";
import { domainArb } from "./arbitraries.js";

/** What a transport does to the wire value: JSON goes through text; proto objects are handed over as they are. */
function transport(wire: unknown, format: WireFormat): unknown {
  return format === "json" ? JSON.parse(JSON.stringify(wire)) : wire;
}

const def = (d: unknown) => d as MessageDef<unknown>;
const FORMATS: WireFormat[] = ["json", "proto"];

describe.each(FORMATS)("round trip (%s)", (format) => {
  it.each(RPC_NAMES.map((rpc) => [rpc]))("%s request survives encode → wire → decode", (rpc: RpcName) => {
    const spec = RPCS[rpc];
    fc.assert(
      fc.property(domainArb(def(spec.request), spec.requires), (value) => {
        const wire = transport(encodeRequest(rpc, value as RequestOf<typeof rpc>, format), format);
        expect(decodeRequest(rpc, wire, format)).toEqual(value);
      }),
      { numRuns: 40 },
    );
  });

  it.each(RPC_NAMES.map((rpc) => [rpc]))("%s response survives encode → wire → decode", (rpc: RpcName) => {
    fc.assert(
      fc.property(domainArb(def(RPCS[rpc].response)), (value) => {
        const wire = transport(encodeResponse(rpc, value as ResponseOf<typeof rpc>, format), format);
        expect(decodeResponse(rpc, wire, format)).toEqual(value);
      }),
      { numRuns: 40 },
    );
  });
});

describe("json and proto agree", () => {
  it.each(RPC_NAMES.map((rpc) => [rpc]))("%s request decodes the same from either format", (rpc: RpcName) => {
    const spec = RPCS[rpc];
    fc.assert(
      fc.property(domainArb(def(spec.request), spec.requires), (value) => {
        const req = value as RequestOf<typeof rpc>;
        const fromJson = decodeRequest(rpc, transport(encodeRequest(rpc, req, "json"), "json"), "json");
        const fromProto = decodeRequest(rpc, encodeRequest(rpc, req, "proto"), "proto");
        expect(fromJson).toEqual(fromProto);
      }),
      { numRuns: 20 },
    );
  });
});
