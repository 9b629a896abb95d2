/** Plain-text tables for list commands, aligned like crictl's. */

export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * The age of a nanosecond timestamp as docker and crictl print it (go-units' HumanDuration + " ago"):
 * "Less than a second ago", "1 second ago", "2 minutes ago", "About a minute ago", "About an hour ago",
 * "3 hours ago", "2 days ago", "3 weeks ago", "4 months ago", "2 years ago".
 *
 * @example
 * age(BigInt(Date.now() - 90_000) * 1_000_000n); // "About a minute ago"
 */
export function age(nanos: bigint, now = Date.now()): string {
  if (nanos === 0n) return "";
  return `${humanDuration(Math.max(0, now - Number(nanos / 1_000_000n)))} ago`;
}

function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  // go-units rounds to the nearest hour here (and truncates everywhere else)
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

export function humanBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)}${units[unit]}`;
}

/** crictl's truncated ID: 13 characters, without the `sha256:` prefix. */
export const shortId = (id: string): string => id.replace(/^sha256:/, "").slice(0, 13);

/** An ID for a table: truncated as crictl does unless `--no-trunc` (trunc false) asked for it whole. */
export const tableId = (id: string, trunc: boolean): string => (trunc ? shortId(id) : id);
