import { describe, expect, it } from "vitest";
import { boundErrorMessage, CriError, isCriError, toCriError } from "./errors.js";
import { nowNanos, parseContainerId, parseImageId, parseSandboxId } from "./ids.js";

describe("CriError", () => {
  it("carries a code, a message and field details", () => {
    const err = CriError.invalidArgument("config.metadata.name: expected string", [
      { path: "config.metadata.name", message: "expected string" },
    ]);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("InvalidArgument");
    expect(err.details).toEqual({ fields: [{ path: "config.metadata.name", message: "expected string" }] });
    expect(CriError.unimplemented("Attach", "no streaming server").message).toBe(
      "Attach is not implemented: no streaming server",
    );
  });

  it("is recognised across module copies, and unknown faults become Internal", () => {
    const foreign = Object.assign(new Error("x"), { name: "CriError", code: "NotFound" });
    expect(isCriError(foreign)).toBe(true);
    expect(isCriError(new Error("x"))).toBe(false);
    const wrapped = toCriError(new TypeError("boom"));
    expect(wrapped.code).toBe("Internal");
    expect(wrapped.cause).toBeInstanceOf(TypeError);
    expect(toCriError("plain")).toMatchObject({ code: "Internal", message: "plain" });
  });
});

describe("typed IDs", () => {
  it("parse only full IDs", () => {
    const hex = "a".repeat(64);
    expect(parseContainerId(hex)).toBe(hex);
    expect(parseSandboxId(hex)).toBe(hex);
    expect(parseContainerId("abc")).toBeUndefined();
    expect(parseContainerId("A".repeat(64))).toBeUndefined();
    expect(parseImageId(`sha256:${hex}`)).toBe(`sha256:${hex}`);
    expect(parseImageId(hex)).toBeUndefined();
  });

  it("nowNanos follows the wall clock and never goes backwards", () => {
    const a = nowNanos();
    expect(Math.abs(Number(a / 1_000_000n) - Date.now())).toBeLessThan(1000);
    let last = a;
    for (let i = 0; i < 10_000; i++) {
      const next = nowNanos();
      expect(next >= last).toBe(true);
      last = next;
    }
  });
});

describe("bounded messages", () => {
  it("a huge quoted input is cut to its head and a marker; the words around it stay", () => {
    const err = CriError.notFound(`container "${"a".repeat(1_000_000)}" not found`);
    expect(err.message).toBe(`container "${"a".repeat(299)}…(999702 more) not found`);
    expect(toCriError(new Error("b".repeat(50_000))).message).toBe(`${"b".repeat(300)}…(49700 more)`);
  });

  it("whole messages stop at 4096 characters; short ones are untouched", () => {
    const words = "word ".repeat(10_000);
    const msg = new CriError("Internal", words).message;
    expect(msg.length).toBeLessThan(4096 + 20);
    expect(msg).toMatch(/…\(45904 more\)$/);
    expect(boundErrorMessage('pod sandbox "web" not found')).toBe('pod sandbox "web" not found');
  });
});
