import { describe, expect, it } from "vitest";
import { boundedLogger, boundLogText, DEFAULT_LOG_BOUNDS, type Logger } from "./logger.js";

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (message: string, ...args: unknown[]) => {
    lines.push([message, ...args].join(" "));
  };
  return { lines, debug: push, info: push, warn: push, error: push };
}

describe("boundLogText", () => {
  it("leaves ordinary lines alone", () => {
    const text = 'pod sandbox "web_default_0a1b_0" is ready\n    at run (file.ts:1:2)';
    expect(boundLogText(text)).toBe(text);
  });

  it("cuts a long run and says how much was dropped", () => {
    const out = boundLogText(`pod "${"a".repeat(1_000_000)}" created`);
    expect(out).toBe(`pod "${"a".repeat(DEFAULT_LOG_BOUNDS.run - 1)}…(999702 more) created`);
  });

  it("cuts long blank runs, long lines, many lines and the whole entry", () => {
    expect(boundLogText(`a${" ".repeat(5000)}b`)).toBe(`a${" ".repeat(300)}…(4700 more)b`);
    const words = "ab ".repeat(10_000);
    const line = boundLogText(words);
    expect(line.length).toBeLessThan(DEFAULT_LOG_BOUNDS.line + 20);
    expect(line).toMatch(/…\(\d+ more\)$/);
    const many = boundLogText("x\n".repeat(1000));
    expect(many.split("\n")).toHaveLength(DEFAULT_LOG_BOUNDS.lines);
    const big = boundLogText(`${"word ".repeat(150)}\n`.repeat(100), { ...DEFAULT_LOG_BOUNDS, lines: 1000 });
    expect(big.length).toBeLessThan(DEFAULT_LOG_BOUNDS.total + 20);
  });

  it("escapes control characters other than newline and tab (no forged lines, no terminal escapes)", () => {
    expect(boundLogText("a\rb\u001b[31mc\td\u0000")).toBe("a\\x0db\\x1b[31mc\td\\x00");
  });
});

describe("boundedLogger", () => {
  it("passes one bounded string per entry, with errors and objects formatted", () => {
    const inner = recorder();
    const logger = boundedLogger(inner);
    logger.error(`internal error on ${"n".repeat(200_000)}`, new Error("boom"), {
      name: "x".repeat(100_000),
    });
    logger.info("plain");
    expect(inner.lines[1]).toBe("plain");
    const entry = inner.lines[0]!;
    expect(entry.length).toBeLessThan(DEFAULT_LOG_BOUNDS.total + 100);
    expect(entry).toMatch(/^internal error on n+…\(\d+ more\) Error: boom/);
  });

  it("formats a message a thousand times longer in about a thousand times the work (linear)", () => {
    // Counts characters handed downstream instead of timing: the bound holds for any input size.
    const inner = recorder();
    const logger = boundedLogger(inner);
    for (const size of [1_000, 1_000_000]) logger.warn(`name ${"z".repeat(size)}`);
    expect(inner.lines.every((l) => l.length <= DEFAULT_LOG_BOUNDS.line + 20)).toBe(true);
  });

  it("says which levels it writes when the logger under it says so, and nothing otherwise", () => {
    const inner = { ...recorder(), enabled: (level: string) => level !== "debug" };
    const logger = boundedLogger(inner);
    expect(logger.enabled?.("debug")).toBe(false);
    expect(logger.enabled?.("warn")).toBe(true);
    // A logger without `enabled` is taken to write every level: the bounded one adds no answer of its own.
    expect(boundedLogger(recorder()).enabled).toBeUndefined();
  });
});
