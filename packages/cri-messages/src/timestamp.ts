/** CRI timestamps (int64 nanoseconds since the epoch) to and from RFC 3339 with nanosecond precision. */
import { CriError } from "@servin/cri-types";

const NS_PER_SECOND = 1_000_000_000n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SECONDS_PER_DAY = 86_400;

/**
 * Formats nanoseconds since the epoch as RFC 3339 in UTC, with the fraction
 * trimmed of trailing zeros (as Go's RFC3339Nano): whole seconds print none.
 * Instants before 1970 are negative and print correctly; years outside
 * 0000–9999 have no RFC 3339 form and throw a RangeError.
 *
 * @example
 * formatRfc3339Nanos(1_704_110_400_123_456_789n); // "2024-01-01T12:00:00.123456789Z"
 * formatRfc3339Nanos(0n); // "1970-01-01T00:00:00Z"
 */
export function formatRfc3339Nanos(nanos: bigint): string {
  // Floor division, so that the fraction is always in [0, 1e9) even before 1970.
  let seconds = nanos / NS_PER_SECOND;
  let fraction = nanos % NS_PER_SECOND;
  if (fraction < 0n) {
    fraction += NS_PER_SECOND;
    seconds -= 1n;
  }
  const { year, month, day } = civilFromDays(Number(floorDiv(seconds, BigInt(SECONDS_PER_DAY))));
  if (year < 0 || year > 9999) throw new RangeError(`timestamp ${nanos} is outside the years 0000-9999`);
  const secondOfDay = Number(seconds - floorDiv(seconds, BigInt(SECONDS_PER_DAY)) * BigInt(SECONDS_PER_DAY));
  const hh = Math.floor(secondOfDay / 3600);
  const mm = Math.floor((secondOfDay % 3600) / 60);
  const ss = secondOfDay % 60;
  let out = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}`;
  if (fraction !== 0n) out += `.${fraction.toString().padStart(9, "0").replace(/0+$/, "")}`;
  return `${out}Z`;
}

/** The outcome of reading a timestamp: nanoseconds, or why not. */
export type TimestampResult = { ok: true; value: bigint } | { ok: false; message: string };

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,32}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Reads a timestamp without throwing; see parseTimestamp for what is accepted. */
export function readTimestamp(input: unknown): TimestampResult {
  const expected = "expected an RFC 3339 timestamp or integer nanoseconds";
  if (typeof input === "string" && !/^[+-]?\d+$/.test(input)) {
    const m = RFC3339.exec(input);
    if (!m) return { ok: false, message: expected };
    const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
    const year = Number(y);
    const month = Number(mo);
    const day = Number(d);
    const hour = Number(h);
    const minute = Number(mi);
    const second = Number(s);
    if (
      month < 1 ||
      month > 12 ||
      day < 1 ||
      day > daysInMonth(year, month) ||
      hour > 23 ||
      minute > 59 ||
      second > 59 ||
      Number(oh ?? 0) > 23 ||
      Number(om ?? 0) > 59
    ) {
      return { ok: false, message: `${expected} (a date or time field is out of range)` };
    }
    const offset = sign ? (sign === "-" ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60) : 0;
    const epochSeconds =
      daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset;
    // Digits beyond nanoseconds are truncated, as Go's time.Parse does.
    const nanos = frac ? BigInt(frac.slice(0, 9).padEnd(9, "0")) : 0n;
    return inInt64(BigInt(epochSeconds) * NS_PER_SECOND + nanos);
  }
  const integer = readInteger(input);
  if (integer === undefined) return { ok: false, message: expected };
  return inInt64(integer);
}

/**
 * Reads a CRI timestamp: an RFC 3339 string (any offset, up to nanosecond
 * precision) or integer nanoseconds since the epoch (bigint, safe or unsafe
 * number, or decimal string). The result must fit in int64.
 *
 * @throws CriError InvalidArgument when the input is neither.
 * @example
 * parseTimestamp("2024-01-01T12:00:00.123456789Z"); // 1704110400123456789n
 * parseTimestamp("1704110400123456789"); // 1704110400123456789n
 */
export function parseTimestamp(input: unknown): bigint {
  const result = readTimestamp(input);
  if (!result.ok) throw CriError.invalidArgument(`timestamp: ${result.message}`);
  return result.value;
}

/**
 * Reads an integer from a bigint, an integral number, a decimal string, or a
 * Long-like `{ low, high, unsigned }` object (what protobufjs produces when
 * long.js is loaded). Undefined when the input is none of these.
 */
export function readInteger(input: unknown): bigint | undefined {
  switch (typeof input) {
    case "bigint":
      return input;
    case "number":
      return Number.isInteger(input) ? BigInt(input) : undefined;
    case "string":
      return /^[+-]?\d{1,40}$/.test(input) ? BigInt(input) : undefined;
    case "object": {
      if (input === null) return undefined;
      const { low, high, unsigned } = input as { low?: unknown; high?: unknown; unsigned?: unknown };
      if (!Number.isInteger(low) || !Number.isInteger(high)) return undefined;
      const bits = (BigInt((high as number) >>> 0) << 32n) | BigInt((low as number) >>> 0);
      return unsigned === true ? bits : BigInt.asIntN(64, bits);
    }
    default:
      return undefined;
  }
}

function inInt64(value: bigint): TimestampResult {
  if (value < INT64_MIN || value > INT64_MAX) {
    return { ok: false, message: "timestamp out of range (int64 nanoseconds: years 1677-2262)" };
  }
  return { ok: true, value };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

// Proleptic Gregorian calendar conversions (H. Hinnant's days_from_civil and
// civil_from_days), exact for every year without Date's two-digit-year quirks.
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}
