/**
 * The compiled encoders (one straight-line function per message and format) write exactly what the
 * reference loop over the schema writes, for the request and response of every RPC, in both
 * formats: filled with every field, empty, and with every field at its proto3 default.
 */
import { describe, expect, it } from "vitest";
import { encodeMessage, encodeMessageLoop } from "./_encode.js";
import type { Kind, MessageDef } from "./_schema.js";
import { ContainerDef } from "./messages/_container.js";
import { RPC_NAMES, RPCS } from "./rpcs.js";

type Fill = "values" | "defaults";

function sample(kind: Kind, fill: Fill, depth: number): unknown {
  const d = fill === "defaults";
  switch (kind.type) {
    case "string":
      return d ? "" : 'a "string" \\ é';
    case "int32":
    case "uint32":
      return d ? 0 : 7;
    case "int64":
      return d ? 0 : 2 ** 40 + 3;
    case "bool":
      return !d;
    case "bytes":
      return d ? new Uint8Array(0) : new Uint8Array([1, 2, 255]);
    case "enum":
      return d ? kind.enum.values[0] : (kind.enum.values[1] ?? kind.enum.values[0]);
    case "timestamp":
      return d ? 0n : 1_764_467_000_123_456_789n;
    case "map":
      return d ? {} : { app: "x", "io.kubernetes/pod": "y" };
    case "list":
      return d || depth > 3 ? [] : [sample(kind.item, fill, depth + 1), sample(kind.item, fill, depth + 1)];
    case "message":
      return depth > 3 ? undefined : filled(kind.message, fill, depth + 1);
  }
}

function filled(def: MessageDef<unknown>, fill: Fill, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of def.fields) out[f.name] = sample(f.kind, fill, depth);
  return out;
}

describe("compiled message encoders", () => {
  const defs = new Map<string, MessageDef<unknown>>();
  for (const rpc of RPC_NAMES) {
    const spec = RPCS[rpc] as unknown as { request: MessageDef<unknown>; response: MessageDef<unknown> };
    defs.set(spec.request.name, spec.request);
    defs.set(spec.response.name, spec.response);
  }

  it("cover every RPC's request and response", () => {
    expect(defs.size).toBeGreaterThan(40);
  });

  for (const format of ["json", "proto"] as const) {
    it(`write what the reference loop writes (${format})`, () => {
      for (const def of defs.values()) {
        for (const value of [filled(def, "values"), filled(def, "defaults"), {}, undefined, null]) {
          expect(encodeMessage(def, value, format), `${def.name} in ${format}`).toEqual(
            encodeMessageLoop(def, value, format),
          );
        }
      }
    });
  }

  it("take field names from the schema only: a hostile key in the input is just ignored", () => {
    const def = RPCS.containerStatus.request as unknown as MessageDef<unknown>;
    const value = { containerId: "c1", verbose: true, '"]; process.exit(1); //': 1, __proto__: { x: 1 } };
    expect(encodeMessage(def, value, "json")).toEqual({ container_id: "c1", verbose: true });
  });
});

describe("frozen values", () => {
  const def = ContainerDef as unknown as MessageDef<unknown>;
  const item = (state: string) => ({
    id: "c1",
    podSandboxId: "p1",
    metadata: { name: "a", attempt: 0 },
    image: { image: "busybox" },
    imageRef: "sha256:1",
    imageId: "sha256:1",
    state,
    createdAt: 1_764_467_000_123_456_789n,
    labels: { app: "x" },
    annotations: {},
  });

  for (const format of ["json", "proto"] as const) {
    it(`are encoded once, to a frozen wire object (${format})`, () => {
      const frozen = Object.freeze(item("CONTAINER_RUNNING"));
      const first = encodeMessage(def, frozen, format);
      expect(Object.isFrozen(first)).toBe(true);
      expect(encodeMessage(def, frozen, format)).toBe(first);
      expect(first).toEqual(encodeMessageLoop(def, frozen, format));
      // A new frozen version (runtime-core swaps its views whole) has its own encoding.
      const next = Object.freeze(item("CONTAINER_EXITED"));
      expect(encodeMessage(def, next, format)).toEqual(encodeMessageLoop(def, next, format));
      expect(encodeMessage(def, next, format)).not.toEqual(first);
    });

    it(`are the only values cached: a value changed in place is encoded as it is now (${format})`, () => {
      const value = item("CONTAINER_RUNNING");
      const first = encodeMessage(def, value, format);
      expect(Object.isFrozen(first)).toBe(false);
      value.state = "CONTAINER_EXITED";
      expect(encodeMessage(def, value, format)).toEqual(encodeMessageLoop(def, value, format));
      expect(encodeMessage(def, value, format)).not.toEqual(first);
    });
  }
});
