import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatRfc3339Nanos, parseTimestamp, readInteger } from "./timestamp.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

describe("formatRfc3339Nanos", () => {
  it("keeps nanosecond precision and trims trailing zeros", () => {
    expect(formatRfc3339Nanos(1_704_110_400_123_456_789n)).toBe("2024-01-01T12:00:00.123456789Z");
    expect(formatRfc3339Nanos(1_704_110_400_500_000_000n)).toBe("2024-01-01T12:00:00.5Z");
    expect(formatRfc3339Nanos(1_704_110_400_000_000_001n)).toBe("2024-01-01T12:00:00.000000001Z");
    expect(formatRfc3339Nanos(1_704_110_400_000_000_000n)).toBe("2024-01-01T12:00:00Z");
  });

  it("formats the epoch and instants before 1970", () => {
    expect(formatRfc3339Nanos(0n)).toBe("1970-01-01T00:00:00Z");
    expect(formatRfc3339Nanos(-1n)).toBe("1969-12-31T23:59:59.999999999Z");
    expect(formatRfc3339Nanos(-1_000_000_000n)).toBe("1969-12-31T23:59:59Z");
    expect(formatRfc3339Nanos(-86_400_000_000_001n)).toBe("1969-12-30T23:59:59.999999999Z");
  });

  it("formats the ends of the int64 range", () => {
    expect(formatRfc3339Nanos(INT64_MAX)).toBe("2262-04-11T23:47:16.854775807Z");
    expect(formatRfc3339Nanos(INT64_MIN)).toBe("1677-09-21T00:12:43.145224192Z");
  });

  it("agrees with Date for millisecond instants", () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        const iso = new Date(ms)
          .toISOString()
          .replace(/\.000Z$/, "Z")
          .replace(/(\.\d*?)0+Z$/, "$1Z");
        expect(formatRfc3339Nanos(BigInt(ms) * 1_000_000n)).toBe(iso);
      }),
    );
  });

  it("refuses years without an RFC 3339 form", () => {
    expect(() => formatRfc3339Nanos(10n ** 30n)).toThrow(RangeError);
  });
});

describe("parseTimestamp", () => {
  it("reads RFC 3339 with nanoseconds, offsets and lowercase separators", () => {
    expect(parseTimestamp("2024-01-01T12:00:00.123456789Z")).toBe(1_704_110_400_123_456_789n);
    expect(parseTimestamp("2024-01-01T12:00:00Z")).toBe(1_704_110_400_000_000_000n);
    expect(parseTimestamp("2024-01-01T14:00:00.5+02:00")).toBe(1_704_110_400_500_000_000n);
    expect(parseTimestamp("2024-01-01t07:30:00-04:30")).toBe(1_704_110_400_000_000_000n);
    expect(parseTimestamp("2024-01-01 12:00:00z")).toBe(1_704_110_400_000_000_000n);
    expect(parseTimestamp("1969-12-31T23:59:59.999999999Z")).toBe(-1n);
    expect(parseTimestamp("1970-01-01T00:00:00Z")).toBe(0n);
    expect(parseTimestamp("2024-02-29T00:00:00Z")).toBe(1_709_164_800_000_000_000n);
  });

  it("truncates digits beyond nanoseconds", () => {
    expect(parseTimestamp("2024-01-01T12:00:00.1234567899Z")).toBe(1_704_110_400_123_456_789n);
  });

  it("reads integer nanoseconds as bigint, number or decimal string", () => {
    expect(parseTimestamp(1_704_110_400_123_456_789n)).toBe(1_704_110_400_123_456_789n);
    expect(parseTimestamp("1704110400123456789")).toBe(1_704_110_400_123_456_789n);
    expect(parseTimestamp("-5")).toBe(-5n);
    expect(parseTimestamp(0)).toBe(0n);
    expect(parseTimestamp(1_000)).toBe(1_000n);
  });

  it("reads Long-like objects", () => {
    expect(parseTimestamp({ low: -1, high: 0x7fffffff, unsigned: false })).toBe(INT64_MAX);
    expect(parseTimestamp({ low: 0, high: -0x80000000 })).toBe(INT64_MIN);
    expect(readInteger({ low: -1, high: -1, unsigned: true })).toBe(2n ** 64n - 1n);
  });

  it.each([
    "2023-02-29T00:00:00Z",
    "2024-13-01T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "2024-01-01T12:60:00Z",
    "2024-01-01T12:00:60Z",
    "2024-01-01T12:00:00",
    "2024-01-01",
    "yesterday",
    "",
    "9999-12-31T23:59:59Z",
    "1000-01-01T00:00:00Z",
  ])("rejects %j", (input) => {
    expect(() => parseTimestamp(input)).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
  });

  it.each([
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [1.5],
    [null],
    [undefined],
    [{}],
    [[]],
    [true],
    [2n ** 63n],
  ])("rejects %s", (input) => {
    expect(() => parseTimestamp(input)).toThrow(expect.objectContaining({ code: "InvalidArgument" }));
  });

  it("inverts formatRfc3339Nanos over the whole int64 range", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), (ns) => {
        expect(parseTimestamp(formatRfc3339Nanos(ns))).toBe(ns);
      }),
      { numRuns: 500 },
    );
  });
});
