import { describe, expect, it } from "vitest";
import { rejectUnknownFlags, UnknownFlagError } from "./_strict-flags.js";

const args = {
  id: { type: "positional", description: "" },
  stdin: { type: "boolean", alias: "i", description: "" },
  tty: { type: "boolean", alias: "t", description: "" },
  port: { type: "string", alias: "p", description: "" },
  "token-file": { type: "string", description: "" },
} as const;

describe("rejectUnknownFlags", () => {
  it("accepts defined flags in every spelling, values of string flags, negations and everything after --", () => {
    for (const raw of [
      ["-it", "c1"],
      ["--stdin", "--tty=true", "c1"],
      ["--port", "--not-a-flag-but-a-value", "c1"],
      ["-p8080", "-p", "8080", "--port=1"],
      ["--tokenFile", "f", "--token-file=f"],
      ["--no-stdin", "c1"],
      ["c1", "--", "ls", "--unknown", "-x"],
      ["-ip", "80", "c1"],
      ["-", "-1"],
    ])
      expect(() => rejectUnknownFlags(args, raw)).not.toThrow();
  });

  it("names the unknown flag", () => {
    expect(() => rejectUnknownFlags(args, ["--stdn"])).toThrow(`unknown flag "--stdn"`);
    expect(() => rejectUnknownFlags(args, ["-itx"])).toThrow(`unknown flag "-x" in "-itx"`);
    expect(() => rejectUnknownFlags(args, ["-x"])).toThrow(`unknown flag "-x"`);
    // --no- only negates booleans
    expect(() => rejectUnknownFlags(args, ["--no-port"])).toThrow(`unknown flag "--no-port"`);
    expect(() => rejectUnknownFlags(args, ["c1", "--bogus=1", "--", "x"])).toThrow(`unknown flag "--bogus"`);
  });

  it("suggests the closest long flag and names the command when the runner gives it", () => {
    const ps = {
      all: { type: "boolean", alias: "a", description: "" },
      "no-trunc": { type: "boolean", description: "" },
    } as const;
    expect(() => rejectUnknownFlags(ps, ["--al"])).toThrow('unknown flag "--al": did you mean "--all"?');
    expect(() => rejectUnknownFlags(args, ["--tokenfile", "f"])).toThrow('did you mean "--token-file"?');
    expect(() => rejectUnknownFlags(ps, ["--zzzzzz"])).toThrow(/^unknown flag "--zzzzzz"$/);
    // one dash for a long flag
    expect(() => rejectUnknownFlags(args, ["-port", "1"])).not.toThrow(); // -p with the value "ort"
    expect(() => rejectUnknownFlags(ps, ["-xall"])).toThrow(
      'unknown flag "-x" in "-xall": did you mean "--all"?',
    );
    try {
      rejectUnknownFlags(ps, ["--al"]);
    } catch (err) {
      expect(err).toBeInstanceOf(UnknownFlagError);
      expect((err as UnknownFlagError).forCommand("servin ps").message).toBe(
        'unknown flag "--al" for "servin ps": did you mean "--all"?',
      );
    }
  });
});
