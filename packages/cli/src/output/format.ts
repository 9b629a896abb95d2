/**
 * `-o json|yaml|table`, `-q` and `--no-trunc` for the listing and inspect commands, as crictl has them:
 * one set of flags, one parser that names a bad value, and one printer for the structured formats.
 */
import { encodeResponse, type ResponseOf, type RpcName } from "@servin/cri-messages";
import { stringify } from "yaml";

export type OutputFormat = "json" | "yaml" | "table";

/** The flags of every listing: `-o`, `--json` (kept as `-o json`), `-q` and `--no-trunc`. */
export const listOutputArgs = {
  output: { type: "string", alias: "o", description: "Output format: table (default), json or yaml" },
  json: { type: "boolean", description: "Print JSON (same as -o json)" },
  quiet: { type: "boolean", alias: "q", description: "Print only the IDs, one per line (full IDs)" },
  trunc: {
    type: "boolean",
    default: true,
    description: "Truncate IDs and image references in tables",
    negativeDescription: "Show full IDs and image references",
  },
} as const;

/** The flags of inspect commands: `-o json|yaml` (JSON by default). */
export const inspectOutputArgs = {
  output: { type: "string", alias: "o", description: "Output format: json (default) or yaml" },
} as const;

/**
 * The format asked for with `-o` (or `--json`), checked against the ones this command prints.
 *
 * @example
 * outputFormat({ output: "yaml" }, ["json", "yaml", "table"], "table"); // "yaml"
 * outputFormat({ output: "xml" }, ["json", "yaml"], "json"); // throws: --output "xml": expected json or yaml
 */
export function outputFormat<F extends OutputFormat>(
  args: { output?: string; json?: boolean },
  allowed: readonly F[],
  fallback: F,
): F {
  if (args.json) {
    if (args.output !== undefined && args.output !== "json")
      throw new Error(`--json and --output "${args.output}" contradict each other`);
    return "json" as F;
  }
  if (args.output === undefined) return fallback;
  const wanted = args.output.toLowerCase();
  const found = allowed.find((f) => f === wanted);
  if (!found) {
    const list = allowed.length > 1 ? `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}` : allowed[0];
    throw new Error(`--output "${args.output}": expected ${list}`);
  }
  return found;
}

/**
 * Prints a CRI answer as the HTTP API's snake_case JSON (so `servin … -o json` and curl agree) or the
 * same document as YAML. `transform` may reshape the encoded document first (see decodeVerboseInfo).
 *
 * @example
 * printStructured("listContainers", res, "yaml");
 */
export function printStructured<R extends RpcName>(
  rpc: R,
  value: ResponseOf<R>,
  format: "json" | "yaml",
  transform: (doc: Record<string, unknown>) => unknown = (doc) => doc,
): void {
  const doc = transform(encodeResponse(rpc, value, "json") as Record<string, unknown>);
  process.stdout.write(
    format === "json" ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc, { lineWidth: 0 }),
  );
}

/**
 * The `info` map of a verbose status holds JSON documents as strings; crictl prints them decoded, and
 * so do we: a value that parses as a JSON object or array becomes that object (others stay strings).
 *
 * @example
 * decodeVerboseInfo({ info: { info: '{"pid":42}' } }); // { info: { info: { pid: 42 } } }
 */
export function decodeVerboseInfo(doc: Record<string, unknown>): Record<string, unknown> {
  const info = doc.info;
  if (!info || typeof info !== "object" || Array.isArray(info)) return doc;
  const decoded: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info as Record<string, unknown>)) {
    decoded[key] = value;
    if (typeof value !== "string") continue;
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed !== null && typeof parsed === "object") decoded[key] = parsed;
    } catch {
      // not JSON: printed as the string it is
    }
  }
  return { ...doc, info: decoded };
}
