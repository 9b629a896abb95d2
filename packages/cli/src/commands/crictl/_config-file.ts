/**
 * crictl's config files for `runp` and `create`: a CRI PodSandboxConfig or ContainerConfig as JSON or
 * YAML, read and checked here so a bad file is refused before anything reaches servin.
 */
import { readFile } from "node:fs/promises";
import { decodeRequest } from "@servin/cri-messages";
import type { ContainerConfig, PodSandboxConfig } from "@servin/cri-types";

/**
 * The file's top-level object. JSON when it starts with `{` (as crictl's YAML-or-JSON decoder sniffs),
 * YAML otherwise; errors name the file.
 *
 * @example
 * await readConfigObject("pod.yaml"); // { metadata: { name: "web", … }, log_directory: "/tmp/web" }
 */
export async function readConfigObject(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let value: unknown;
  if (text.trimStart().startsWith("{")) {
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file}: invalid JSON: ${(err as Error).message}`);
    }
  } else {
    const { parse } = await import("yaml");
    try {
      value = parse(text);
    } catch (err) {
      throw new Error(`${file}: invalid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error(`${file}: expected an object (a CRI config with metadata, …), got ${describe(value)}`);
  return value as Record<string, unknown>;
}

const describe = (v: unknown) =>
  v === null || v === undefined ? "nothing" : Array.isArray(v) ? "a list" : typeof v;

/** Re-throws cri-messages' InvalidArgument with the file's name and paths as written in the file (no `config.`). */
function fileError(file: string, err: unknown): never {
  const fields = (err as { details?: { fields?: { path: string; message: string }[] } }).details?.fields;
  if (!fields?.length) throw err;
  const issues = fields.map((f) => `${f.path.replace(/^config\./, "")}: ${f.message}`);
  throw new Error(`${file}: ${issues.join("; ")}`);
}

/**
 * A PodSandboxConfig from crictl's pod config file: the CRI field names in snake_case (crictl's
 * examples: `log_directory`, `port_mappings`) or lowerCamelCase (`logDirectory`).
 *
 * @example
 * const config = await loadPodSandboxConfig("pod.json"); // throws `pod.json: metadata.name: …` on a bad one
 */
export async function loadPodSandboxConfig(file: string): Promise<PodSandboxConfig> {
  const raw = await readConfigObject(file);
  try {
    return decodeRequest("runPodSandbox", { config: raw }, "json").config;
  } catch (err) {
    return fileError(file, err);
  }
}

/**
 * A ContainerConfig from crictl's container config file (`metadata.name`, `image.image`, `command`,
 * `args`, `log_path`, `envs`, `mounts`, `linux`…).
 *
 * @example
 * const config = await loadContainerConfig("container.yaml");
 */
export async function loadContainerConfig(file: string): Promise<ContainerConfig> {
  const raw = await readConfigObject(file);
  try {
    // the pod ID is checked by servin; a placeholder keeps the decoder to the file's own fields
    return decodeRequest("createContainer", { pod_sandbox_id: "-", config: raw }, "json").config;
  } catch (err) {
    return fileError(file, err);
  }
}

/** crictl's `--cancel-timeout`: a Go duration ("30s", "2m", "1m30s") or seconds; 0 = no limit. */
export function parseCancelTimeout(value: string | undefined): number | undefined {
  if (value === undefined || value === "" || /^0+(s|ms|m|h)?$/.test(value)) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  if (/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(value)) {
    const unit = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
    let ms = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g))
      ms += Number(m[1]) * unit[m[2] as keyof typeof unit];
    return ms;
  }
  throw new Error(`--cancel-timeout: expected a duration such as "30s" or "2m", got "${value}"`);
}
