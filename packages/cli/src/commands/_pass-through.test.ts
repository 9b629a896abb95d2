import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./_pass-through.js";

const args = {
  port: { type: "string" },
  env: { type: "string", alias: "e" },
  detach: { type: "boolean", alias: "d" },
  tty: { type: "boolean", alias: "t" },
  image: { type: "positional" },
} as const;

describe("parseCommandLine", () => {
  it("servin's flags stop at the first positional; everything after it is the command's", () => {
    const line = parseCommandLine(
      args,
      ["-e", "A=1", "--env=B=2", "-dt", "busybox", "ls", "-la", "--port", "1"],
      1,
    );
    expect(line.positionals).toEqual(["busybox"]);
    expect(line.command).toEqual(["ls", "-la", "--port", "1"]);
    expect(line.strings.get("env")).toEqual(["A=1", "B=2"]);
    expect(line.booleans).toEqual(
      new Map([
        ["detach", true],
        ["tty", true],
      ]),
    );
  });

  it("an optional -- after the positional, or before it, is not part of the command", () => {
    expect(parseCommandLine(args, ["busybox", "--", "sh", "-c", "x"], 1).command).toEqual(["sh", "-c", "x"]);
    expect(parseCommandLine(args, ["-d", "--", "busybox", "sh"], 1)).toMatchObject({
      positionals: ["busybox"],
      command: ["sh"],
    });
    expect(parseCommandLine(args, ["busybox", "sh", "--", "x"], 1).command).toEqual(["sh", "--", "x"]);
  });

  it("a value glued to a short flag, --no-X, and a missing value", () => {
    expect(parseCommandLine(args, ["-eA=1", "--no-detach", "img"], 1)).toMatchObject({
      strings: new Map([["env", ["A=1"]]]),
      booleans: new Map([["detach", false]]),
    });
    expect(() => parseCommandLine(args, ["--port"], 1)).toThrow('flag "--port" needs a value');
  });

  it("unknown flags before the positional are refused, after it never looked at", () => {
    expect(() => parseCommandLine(args, ["--nope", "img"], 1)).toThrow('unknown flag "--nope"');
    expect(() => parseCommandLine(args, ["-dx", "img"], 1)).toThrow('unknown flag "-x"');
    expect(parseCommandLine(args, ["img", "--nope"], 1).command).toEqual(["--nope"]);
  });
});
