import { describe, expect, it } from "vitest";
import { stripAnsi, wantsPlainOutput } from "./plain-reporter.js";

const stream = (isTTY: boolean) => ({ isTTY }) as NodeJS.WriteStream;

describe("plain output", () => {
  it("is chosen for a pipe or file, and on a terminal with NO_COLOR or TERM=dumb", () => {
    expect(wantsPlainOutput(stream(false), {})).toBe(true);
    expect(wantsPlainOutput(stream(true), {})).toBe(false);
    expect(wantsPlainOutput(stream(true), { NO_COLOR: "1" })).toBe(true);
    expect(wantsPlainOutput(stream(true), { TERM: "dumb" })).toBe(true);
    // NO_COLOR set but empty does not count (no-color.org)
    expect(wantsPlainOutput(stream(true), { NO_COLOR: "" })).toBe(false);
  });

  it("strips ANSI escapes a message may carry", () => {
    expect(stripAnsi("Unknown command \x1b[36mpul\x1b[39m")).toBe("Unknown command pul");
    expect(stripAnsi("\x1b[2Kdone")).toBe("done");
  });
});
