/** CNI network configuration: find the first config file in a directory, parse and validate it, resolve its plugins. */
import { constants } from "node:fs";
import { access, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ignoreEnoent } from "@servin/node-kit";
import { CniConfigError } from "./errors.js";

/** Spec versions this package speaks (CNI 1.0.0, 0.4.0 and the 0.3.x result shape they share). */
export const SUPPORTED_CNI_VERSIONS = ["1.0.0", "0.4.0", "0.3.1", "0.3.0"] as const;
export type CniVersion = (typeof SUPPORTED_CNI_VERSIONS)[number];

/** Where configs and plugins are looked for unless told otherwise (containerd's and Debian's defaults). */
export const DEFAULT_CONF_DIR = "/etc/cni/net.d";
export const DEFAULT_BIN_DIRS: readonly string[] = ["/opt/cni/bin", "/usr/lib/cni"];

/** File name endings libcni accepts in a conf dir. */
const CONFIG_EXTENSIONS = [".conflist", ".conf", ".json"];
/** Spec: network names and plugin types are alphanumerics plus `_ . -`; no `/`, so `type` can never walk out of the plugin dirs. */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_CONFIG_BYTES = 1 << 20;

/** One plugin of a network: its `type` and the JSON object it gets on stdin (before name/cniVersion/prevResult/runtimeConfig are added). */
export interface PluginConfig {
  type: string;
  /** Capabilities the plugin declares (`{ portMappings: true }`): only those runtimeConfig keys are passed to it. */
  capabilities: Record<string, boolean>;
  /** The plugin's object exactly as written in the file. */
  raw: Record<string, unknown>;
}

/** A network configuration list: a `.conflist`, or a `.conf` turned into a one-plugin list. */
export interface NetworkConfig {
  name: string;
  cniVersion: CniVersion;
  /** CHECK is skipped when the list says `disableCheck` (and always for 0.3.x, which has no CHECK). */
  disableCheck: boolean;
  plugins: PluginConfig[];
  /** The file it came from. */
  file: string;
}

/**
 * Parses one configuration file's text. A `.conflist` (an object with `plugins`) is taken
 * as is; a `.conf`/`.json` (an object with `type`) becomes a list of one plugin, as libcni's
 * `ConfListFromConf` does. Errors name the file and the field.
 *
 * @example
 * parseNetworkConfig('{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"}]}', "/etc/cni/net.d/10-n.conflist");
 */
export function parseNetworkConfig(text: string, file: string): NetworkConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new CniConfigError(file, `invalid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new CniConfigError(file, "expected a JSON object");
  const cniVersion = doc.cniVersion;
  if (typeof cniVersion !== "string") throw new CniConfigError(file, "cniVersion: expected string");
  if (!(SUPPORTED_CNI_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniConfigError(
      file,
      `cniVersion "${cniVersion}" is not supported (supported: ${SUPPORTED_CNI_VERSIONS.join(", ")})`,
    );
  }
  const name = doc.name;
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new CniConfigError(file, `name: expected a network name of letters, digits, "_", "." or "-"`);
  }
  let rawPlugins: unknown[];
  if ("plugins" in doc) {
    if (!Array.isArray(doc.plugins)) throw new CniConfigError(file, "plugins: expected array");
    if (doc.plugins.length === 0) throw new CniConfigError(file, "plugins: the list is empty");
    rawPlugins = doc.plugins;
  } else if ("type" in doc) {
    const { cniVersion: _v, name: _n, ...plugin } = doc;
    rawPlugins = [plugin];
  } else {
    throw new CniConfigError(file, 'neither "plugins" (a .conflist) nor "type" (a .conf)');
  }
  const plugins = rawPlugins.map((raw, i): PluginConfig => {
    const where = `plugins[${i}]`;
    if (!isObject(raw)) throw new CniConfigError(file, `${where}: expected object`);
    if (typeof raw.type !== "string" || !NAME_PATTERN.test(raw.type)) {
      throw new CniConfigError(
        file,
        `${where}.type: expected a plugin name (letters, digits, "_", "." or "-")`,
      );
    }
    const capabilities: Record<string, boolean> = {};
    if (raw.capabilities !== undefined) {
      if (!isObject(raw.capabilities))
        throw new CniConfigError(file, `${where}.capabilities: expected object`);
      for (const [key, value] of Object.entries(raw.capabilities)) capabilities[key] = value === true;
    }
    return { type: raw.type, capabilities, raw };
  });
  const disableCheck = doc.disableCheck === true || doc.disableCheck === "true";
  return { name, cniVersion: cniVersion as CniVersion, disableCheck, plugins, file };
}

/**
 * The configuration files of `confDir` that libcni would consider, in lexical order
 * (the first one is the network). A missing directory has none.
 */
export async function listConfigFiles(confDir: string): Promise<string[]> {
  const entries = (await ignoreEnoent(readdir(confDir, { withFileTypes: true }))) ?? [];
  return entries
    .filter(
      (e) => (e.isFile() || e.isSymbolicLink()) && CONFIG_EXTENSIONS.some((ext) => e.name.endsWith(ext)),
    )
    .map((e) => e.name)
    .sort()
    .map((n) => join(confDir, n));
}

/**
 * Loads the network of `confDir`: the first config file in lexical order. Answers
 * `undefined` when there is none; throws a CniConfigError naming the file when it is unusable.
 *
 * @example
 * const net = await loadNetworkConfig("/etc/cni/net.d"); // { name: "critest", plugins: [{ type: "bridge" }, …] }
 */
export async function loadNetworkConfig(
  confDir: string = DEFAULT_CONF_DIR,
): Promise<NetworkConfig | undefined> {
  const [file] = await listConfigFiles(confDir);
  if (file === undefined) return undefined;
  const text = await ignoreEnoent(readFile(file, "utf8"));
  if (text === undefined) return undefined; // removed between readdir and read: the watcher re-scans
  if (text.length > MAX_CONFIG_BYTES) throw new CniConfigError(file, `larger than ${MAX_CONFIG_BYTES} bytes`);
  return parseNetworkConfig(text, file);
}

/**
 * The executable of plugin `type`: the first `binDirs` entry holding an executable file of
 * that name (libcni's `FindInPath`), or `undefined`.
 *
 * @example
 * await findPlugin("bridge", ["/opt/cni/bin", "/usr/lib/cni"]); // "/usr/lib/cni/bridge"
 */
export async function findPlugin(
  type: string,
  binDirs: readonly string[] = DEFAULT_BIN_DIRS,
): Promise<string | undefined> {
  if (!NAME_PATTERN.test(type)) return undefined;
  for (const dir of binDirs) {
    const path = join(dir, type);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The plugin types of `config` (IPAM delegates included) that none of `binDirs` holds. */
export async function missingPlugins(config: NetworkConfig, binDirs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const p of config.plugins) {
    // The IPAM delegate is found by the plugin through CNI_PATH, i.e. the same directories.
    const ipam = isObject(p.raw.ipam) && typeof p.raw.ipam.type === "string" ? [p.raw.ipam.type] : [];
    for (const type of [p.type, ...ipam]) {
      if (!missing.includes(type) && (await findPlugin(type, binDirs)) === undefined) missing.push(type);
    }
  }
  return missing;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
