/** ownBytes: what a small file's data waiting for its create keeps alive. */
import { describe, expect, it } from "vitest";
import { ownBytes } from "./_bytes.js";

describe("ownBytes", () => {
  it("copies a small slice of a large buffer, so the large one is not kept alive", () => {
    const big = Buffer.alloc(1024 * 1024, 0x61);
    const slice = big.subarray(1000, 1000 + 300);
    const out = ownBytes([slice]);
    expect(out.equals(slice)).toBe(true);
    expect(out.buffer).not.toBe(big.buffer);
    expect(out.buffer.byteLength).toBeLessThan(64 * 1024);
  });

  it("returns a lone chunk that is most of its buffer as it is", () => {
    const whole = Buffer.alloc(200_000, 0x62);
    expect(ownBytes([whole])).toBe(whole);
    const most = whole.subarray(0, 150_000);
    expect(ownBytes([most])).toBe(most);
  });

  it("joins several chunks in order, and none into nothing", () => {
    const a = Buffer.from("abc");
    const b = Buffer.from("defg");
    expect(ownBytes([a, b]).toString()).toBe("abcdefg");
    expect(ownBytes([]).length).toBe(0);
  });
});
