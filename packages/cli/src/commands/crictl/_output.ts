/** Table cells as crictl prints them, for stats and statsp. */

/**
 * Sizes as crictl prints them (go-units' HumanSize: decimal units, four significant digits).
 *
 * @example
 * humanSize(1_234_567); // "1.235MB"
 */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(4))}${units[unit]}`;
}
