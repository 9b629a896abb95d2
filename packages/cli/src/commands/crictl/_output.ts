/** `-o json|yaml|table` for the crictl-style commands: JSON and YAML are the HTTP API's snake_case shape. */
import { encodeResponse, type ResponseOf, type RpcName } from "@servin/cri-messages";

export type OutputFormat = "json" | "yaml" | "table";

/** Checks `-o`; `allowed` lists what this command prints. */
export function parseOutputFormat<F extends OutputFormat>(
  value: string | undefined,
  allowed: readonly F[],
  fallback: F,
): F {
  if (value === undefined || value === "") return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as F;
  throw new Error(`--output: expected one of ${allowed.join("|")}, got "${value}"`);
}

/** A plain value as JSON (two-space indent, as crictl) or YAML. */
export async function formatValue(value: unknown, format: "json" | "yaml"): Promise<string> {
  if (format === "json") return `${JSON.stringify(value, null, 2)}\n`;
  const { stringify } = await import("yaml");
  return stringify(value);
}

/** A CRI answer in the HTTP API's wire shape (so `-o json` and curl agree), as JSON or YAML. */
export function formatAnswer<R extends RpcName>(
  rpc: R,
  value: ResponseOf<R>,
  format: "json" | "yaml",
): Promise<string> {
  return formatValue(encodeResponse(rpc, value, "json"), format);
}

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

/** A CRI ID cut to crictl's 13 characters in tables. */
export const truncateId = (id: string): string => id.slice(0, 13);
