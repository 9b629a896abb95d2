import { isCriError } from "@servin/cri-types";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { MessageDef } from "../src/_schema.js";
import { decodeRequest, decodeResponse, type WireFormat } from "../src/codec.js";
import { RPC_NAMES, RPCS } from "../src/rpcs.js";

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Every wire key of every message, so that random input reaches deep into the schemas. */
function allWireKeys(): string[] {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const visit = (def: MessageDef<unknown>) => {
    if (seen.has(def)) return;
    seen.add(def);
    for (const f of def.fields) {
      for (const key of f.inputKeys) keys.add(key);
      let kind = f.kind;
      if (kind.type === "list") kind = kind.item;
      if (kind.type === "message") visit(kind.message);
    }
  };
  for (const rpc of RPC_NAMES) {
    visit(RPCS[rpc].request as MessageDef<unknown>);
    visit(RPCS[rpc].response as MessageDef<unknown>);
  }
  return [...keys];
}

const key = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...allWireKeys()) },
  { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

const leaf = fc.oneof(
  fc.jsonValue({ maxDepth: 1 }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 64, -1, 2n ** 70n, "", "0", "-1", "1e3"),
  fc.constantFrom("2024-01-01T00:00:00Z", "SANDBOX_READY", "CONTAINER_RUNNING", "SIGTERM", "aGk="),
  fc.uint8Array({ maxLength: 4 }),
);

/** Objects shaped like CRI messages but with arbitrary values, keys (including prototype keys) and depth. */
const { wire } = fc.letrec((tie) => ({
  wire: fc.oneof({ depthSize: "small" }, leaf, tie("object"), tie("array")),
  object: fc.array(fc.tuple(key, tie("wire")), { maxLength: 6 }).map((entries) => {
    // JSON.parse semantics: "__proto__" becomes an own data property, never the prototype.
    const obj: Record<string, unknown> = {};
    for (const [k, v] of entries)
      Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
    return obj;
  }),
  array: fc.array(tie("wire"), { maxLength: 4 }),
}));

function expectOnlyCriErrors(run: () => unknown, code: string): void {
  try {
    run();
  } catch (err) {
    if (!isCriError(err) || err.code !== code) throw err;
  }
}

afterAll(() => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_KEYS);
});

describe.each(["json", "proto"] as WireFormat[])("hostile input (%s)", (format) => {
  it("random message-shaped input never throws anything but CriError(InvalidArgument)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...RPC_NAMES), wire, (rpc, input) => {
        expectOnlyCriErrors(() => decodeRequest(rpc, input, format), "InvalidArgument");
        expectOnlyCriErrors(() => decodeResponse(rpc, input, format), "Internal");
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it("random JSON text never throws anything but CriError(InvalidArgument)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...RPC_NAMES), fc.json(), (rpc, text) => {
        expectOnlyCriErrors(() => decodeRequest(rpc, JSON.parse(text), format), "InvalidArgument");
      }),
      { numRuns: 1000 },
    );
  });
});

describe("prototype keys", () => {
  it("stay plain data in maps and never reach Object.prototype", () => {
    const body = JSON.parse(
      '{"config":{"metadata":{"name":"p"},"labels":{"__proto__":"x","constructor":"y","polluted":"z"},' +
        '"annotations":{"__proto__":{"polluted":"yes"}}}}',
    );
    expect(() => decodeRequest("runPodSandbox", body, "json")).toThrow(
      "config.annotations.__proto__: expected string",
    );
    delete body.config.annotations;
    const req = decodeRequest("runPodSandbox", body, "json");
    const labels = req.config.labels as Record<string, string>;
    expect(Object.getPrototypeOf(labels)).toBeNull();
    expect(Object.keys(labels).sort()).toEqual(["__proto__", "constructor", "polluted"]);
    expect(Object.getOwnPropertyDescriptor(labels, "__proto__")?.value).toBe("x");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a top-level __proto__ key is ignored like any unknown field", () => {
    const body = JSON.parse('{"__proto__":{"pod_sandbox_id":"p"},"constructor":{"prototype":{"x":1}}}');
    expect(() => decodeRequest("stopPodSandbox", body, "json")).toThrow(
      "pod_sandbox_id: expected a non-empty string",
    );
  });
});

describe("pathological shapes", () => {
  it("deep nesting in unknown and known fields", () => {
    let deep: unknown = "x";
    for (let i = 0; i < 100_000; i++) deep = { a: deep, labels: [deep] };
    expect(decodeRequest("listPodSandbox", { filter: { bogus: deep } }, "json")).toEqual({ filter: {} });
    expect(() => decodeRequest("listPodSandbox", { filter: { label_selector: deep } }, "json")).toThrow(
      "filter.label_selector.a: expected string; filter.label_selector.labels: expected string",
    );
    expect(() => decodeRequest("runPodSandbox", { config: deep }, "json")).toThrow(
      "config.metadata: expected an object",
    );
  });

  it("huge arrays", () => {
    const cmd = Array.from({ length: 200_000 }, () => "x");
    expect(decodeRequest("execSync", { container_id: "c", cmd }, "json").cmd).toHaveLength(200_000);
    const bad = Array.from({ length: 200_000 }, () => null);
    expect(() => decodeRequest("execSync", { container_id: "c", cmd: bad }, "json")).toThrow(
      /and 199980 more$/,
    );
  });

  it("NaN, infinities and fractions where integers belong", () => {
    for (const timeout of [Number.NaN, Number.POSITIVE_INFINITY, 0.5, "1.5", "0x10", [], {}]) {
      expect(() => decodeRequest("stopContainer", { containerId: "c", timeout }, "proto")).toThrow(
        "timeout: expected a 64-bit integer (number or decimal string)",
      );
    }
    expect(() => decodeRequest("portForward", { podSandboxId: "p", port: [2 ** 31] }, "proto")).toThrow(
      "port[0]: expected a 32-bit integer",
    );
  });

  it("symbol keys are ignored and throwing getters become CriErrors", () => {
    const labels = { [Symbol("s")]: 1, ok: "v" };
    expect(
      decodeRequest("runPodSandbox", { config: { metadata: { name: "p" }, labels } }, "proto").config.labels,
    ).toEqual({
      ok: "v",
    });
    const trap = {
      get config() {
        throw new Error("boom");
      },
    };
    expect(() => decodeRequest("runPodSandbox", trap, "json")).toThrow(
      expect.objectContaining({ code: "InvalidArgument" }),
    );
    const proxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("no keys");
        },
      },
    );
    expect(() =>
      decodeRequest("runPodSandbox", { config: { metadata: { name: "p" }, labels: proxy } }, "json"),
    ).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
  });
});
