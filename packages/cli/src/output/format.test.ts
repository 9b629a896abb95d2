import { describe, expect, it } from "vitest";
import { decodeVerboseInfo, outputFormat } from "./format.js";

describe("outputFormat", () => {
  it("takes -o, --json as -o json, and the command's default", () => {
    const all = ["json", "yaml", "table"] as const;
    expect(outputFormat({}, all, "table")).toBe("table");
    expect(outputFormat({ output: "YAML" }, all, "table")).toBe("yaml");
    expect(outputFormat({ json: true }, all, "table")).toBe("json");
    expect(outputFormat({ json: true, output: "json" }, all, "table")).toBe("json");
  });

  it("names a format the command does not print, and the ones it does", () => {
    expect(() => outputFormat({ output: "xml" }, ["json", "yaml", "table"], "table")).toThrow(
      '--output "xml": expected json, yaml or table',
    );
    expect(() => outputFormat({ output: "table" }, ["json", "yaml"], "json")).toThrow(
      '--output "table": expected json or yaml',
    );
    expect(() => outputFormat({ output: "yaml", json: true }, ["json", "yaml"], "json")).toThrow(
      '--json and --output "yaml"',
    );
  });
});

describe("decodeVerboseInfo", () => {
  it("decodes JSON objects and arrays held as strings, and leaves other strings alone", () => {
    const doc = {
      status: { id: "c1" },
      info: { info: '{"pid":42,"config":{"a":[1]}}', list: "[1,2]", text: "plain", number: "12" },
    };
    expect(decodeVerboseInfo(doc)).toEqual({
      status: { id: "c1" },
      info: { info: { pid: 42, config: { a: [1] } }, list: [1, 2], text: "plain", number: "12" },
    });
    expect(decodeVerboseInfo({ status: {} })).toEqual({ status: {} });
  });
});
