/** servin's configuration: defaults, then the TOML config file, then command-line flags (flags win). */
import { readFile } from "node:fs/promises";
import { defaultPaths, isEnoent } from "@servin/node-kit";
import { parse as parseToml } from "smol-toml";
import { suggest } from "../_suggest.js";
import {
  isLogFormat,
  isLogLevel,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "../daemon/log.js";

export type RuntimeBackendName = "auto" | "memory" | "oci";
export type ImageBackendName = "memory" | "disk";

export interface RegistryHostConfig {
  /** Mirror endpoints tried in order before the upstream, e.g. "http://127.0.0.1:5000". */
  mirrors?: string[];
  /** Plain HTTP or unverified TLS for this host (opt-in). */
  insecure?: boolean;
  /** Whether the registry itself is tried when its mirrors fail or lack the image (overrides `[images]`). */
  upstreamFallback?: boolean;
}

/** Decompression caps of `[images]` (defaults in @servin/image-store: 32 GiB, 100×, 64 GiB). */
export interface ImageLimitsConfig {
  maxLayerBytes?: number;
  maxLayerExpansion?: number;
  maxImageBytes?: number;
}

export interface ServinConfig {
  host: string;
  port: number;
  verbose: boolean;
  /** The daemon's log level (`[log] level`, SERVIN_LOG_LEVEL, `--log-level`; `--verbose` is debug). */
  logLevel: LogLevel;
  /** Text lines or JSON lines (`[log] format`, SERVIN_LOG_FORMAT, `--log-format`). */
  logFormat: LogFormat;
  /** "" turns the gRPC listener off. */
  grpcSocket: string;
  /** Optional TCP address for gRPC ("127.0.0.1:9091"); off unless set. */
  grpcTcp: string;
  tokenFile: string;
  /** Without a token: uids admitted to the TCP APIs besides root (`[server] allowed_uids`). */
  allowedUids: number[];
  /** Without a token: groups whose members are admitted to the TCP APIs (`[server] allowed_gids`). */
  allowedGids: number[];
  root: string;
  stateDir: string;
  backend: RuntimeBackendName;
  imageBackend: ImageBackendName;
  /** OCI runtime handlers: name → binary. */
  runtimes: Record<string, { path: string }>;
  defaultRuntime: string;
  conmonPath: string;
  pausePath: string;
  cgroupParent: string;
  /**
   * PodSandboxStatus answers containers_statuses and timestamp, kubelet's evented-PLEG fields
   * (`[runtime] enable_pod_events`, `--enable-pod-events`; default false, as CRI-O).
   */
  enablePodEvents: boolean;
  registries: Record<string, RegistryHostConfig>;
  /** Where docker-style credentials are read (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  authFile: string;
  /** Whether registries with mirrors are tried themselves when the mirrors fail (default true, as containerd). */
  upstreamFallback: boolean;
  imageLimits: ImageLimitsConfig;
  /** CNI network config directory (`[network] conf_dir`, `--cni-conf-dir`). */
  cniConfDir: string;
  /** CNI plugin directories, searched in order (`[network] bin_dirs`, `--cni-bin-dir`). */
  cniBinDirs: string[];
  /** CNI attachment records and cached results; "" = `<root>/cni` (`[network] cache_dir`). */
  cniCacheDir: string;
  /** Where the streaming server (Exec/Attach/PortForward URLs) listens (`[streaming] address`, `--streaming-address`). */
  streamingAddress: string;
  /** Its port; 0 = a free one (`[streaming] port`). */
  streamingPort: number;
  /** Seconds without bytes either way before a stream is closed (`[streaming] idle_timeout`; default 4 h, kubelet's). */
  streamingIdleTimeout: number;
}

export function defaultConfig(): ServinConfig {
  const paths = defaultPaths();
  return {
    host: "127.0.0.1",
    port: 8080,
    verbose: false,
    logLevel: "info",
    logFormat: "text",
    grpcSocket: paths.grpcSocket,
    grpcTcp: "",
    tokenFile: "",
    allowedUids: [],
    allowedGids: [],
    root: paths.root,
    stateDir: paths.stateDir,
    backend: "auto",
    imageBackend: "disk",
    runtimes: {},
    defaultRuntime: "runc",
    conmonPath: "",
    pausePath: "",
    cgroupParent: "servin",
    enablePodEvents: false,
    registries: {},
    authFile: "",
    upstreamFallback: true,
    imageLimits: {},
    cniConfDir: "/etc/cni/net.d",
    cniBinDirs: ["/opt/cni/bin", "/usr/lib/cni"],
    cniCacheDir: "",
    streamingAddress: "127.0.0.1",
    streamingPort: 0,
    streamingIdleTimeout: 4 * 3600,
  };
}

/** The TOML file's shape (snake_case, grouped), documented in the CLI README. */
interface ConfigFile {
  server?: {
    host?: string;
    port?: number;
    grpc_socket?: string;
    grpc_tcp?: string;
    token_file?: string;
    allowed_uids?: unknown;
    allowed_gids?: unknown;
  };
  storage?: { root?: string; state_dir?: string };
  runtime?: {
    backend?: string;
    default_runtime?: string;
    conmon?: string;
    pause?: string;
    cgroup_parent?: string;
    enable_pod_events?: unknown;
    runtimes?: Record<string, { path?: string }>;
  };
  images?: {
    backend?: string;
    auth_file?: string;
    upstream_fallback?: boolean;
    max_layer_expanded_bytes?: number;
    max_layer_expansion_ratio?: number;
    max_image_expanded_bytes?: number;
  };
  registries?: Record<string, { mirrors?: string[]; insecure?: boolean; upstream_fallback?: boolean }>;
  network?: { conf_dir?: string; bin_dirs?: unknown; cache_dir?: string };
  streaming?: { address?: unknown; port?: unknown; idle_timeout?: unknown };
  log?: { level?: unknown; format?: unknown };
}

export class ConfigError extends Error {}

/** Reads the config file; a missing file at the default path is fine, a missing explicit one is an error. */
export async function loadConfigFile(path: string, explicit: boolean): Promise<Partial<ServinConfig>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (isEnoent(err) && !explicit) return {};
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let raw: ConfigFile;
  try {
    raw = parseToml(text) as ConfigFile;
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  return fromFile(raw, path);
}

// Every key the file may hold. An unknown key is an error, not ignored: a misspelt `allowed_uids` or
// `token_file` would otherwise silently change who may drive the runtime.
const FILE_KEYS = {
  server: ["host", "port", "grpc_socket", "grpc_tcp", "token_file", "allowed_uids", "allowed_gids"],
  storage: ["root", "state_dir"],
  runtime: [
    "backend",
    "default_runtime",
    "conmon",
    "pause",
    "cgroup_parent",
    "enable_pod_events",
    "runtimes",
  ],
  images: [
    "backend",
    "auth_file",
    "upstream_fallback",
    "max_layer_expanded_bytes",
    "max_layer_expansion_ratio",
    "max_image_expanded_bytes",
  ],
  network: ["conf_dir", "bin_dirs", "cache_dir"],
  streaming: ["address", "port", "idle_timeout"],
  log: ["level", "format"],
  registries: undefined, // any host name, each with REGISTRY_KEYS
} as const;
const REGISTRY_KEYS = ["mirrors", "insecure", "upstream_fallback"];
const RUNTIME_HANDLER_KEYS = ["path"];

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

const didYouMean = (input: string, candidates: readonly string[]): string => {
  const near = suggest(input, candidates);
  return near === undefined ? "" : `, did you mean "${near}"?`;
};

/** Throws on a key the file format does not have, or a section that is not a table, naming it. */
function checkShape(raw: Record<string, unknown>, path: string): void {
  const fail = (key: string, why: string): never => {
    throw new ConfigError(`config file ${path}: ${key}: ${why}`);
  };
  const table = (v: unknown, key: string, keys: readonly string[] | undefined) => {
    if (!isTable(v)) return fail(key, "expected a table");
    if (keys)
      for (const k of Object.keys(v))
        if (!keys.includes(k))
          fail(`${key}.${k}`, `unknown key${didYouMean(k, keys)} (expected one of ${keys.join(", ")})`);
    return v;
  };
  const sections = Object.keys(FILE_KEYS);
  for (const [name, value] of Object.entries(raw)) {
    if (!sections.includes(name))
      fail(name, `unknown section${didYouMean(name, sections)} (expected one of ${sections.join(", ")})`);
    table(value, name, FILE_KEYS[name as keyof typeof FILE_KEYS]);
  }
  if (raw.registries !== undefined)
    for (const [host, def] of Object.entries(raw.registries as object))
      table(def, `registries."${host}"`, REGISTRY_KEYS);
  const runtimes = (raw.runtime as { runtimes?: unknown } | undefined)?.runtimes;
  if (runtimes !== undefined)
    for (const [name, def] of Object.entries(table(runtimes, "runtime.runtimes", undefined)))
      table(def, `runtime.runtimes.${name}`, RUNTIME_HANDLER_KEYS);
}

function fromFile(raw: ConfigFile, path: string): Partial<ServinConfig> {
  checkShape(raw as Record<string, unknown>, path);
  const out: Partial<ServinConfig> = {};
  const str = (v: unknown, key: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new ConfigError(`config file ${path}: ${key}: expected a string`);
    return v;
  };
  const port = (v: unknown, key: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535)
      throw new ConfigError(`config file ${path}: ${key}: expected an integer 0-65535`);
    return v;
  };
  const bool = (v: unknown, key: string): boolean => {
    if (typeof v !== "boolean") throw new ConfigError(`config file ${path}: ${key}: expected true or false`);
    return v;
  };
  const s = raw.server ?? {};
  if (s.host !== undefined) out.host = str(s.host, "server.host");
  if (s.port !== undefined) out.port = port(s.port, "server.port");
  if (s.grpc_socket !== undefined) out.grpcSocket = str(s.grpc_socket, "server.grpc_socket");
  if (s.grpc_tcp !== undefined) out.grpcTcp = str(s.grpc_tcp, "server.grpc_tcp");
  if (s.token_file !== undefined) out.tokenFile = str(s.token_file, "server.token_file");
  const ids = (v: unknown, key: string): number[] => {
    if (!Array.isArray(v) || v.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff))
      throw new ConfigError(`config file ${path}: ${key}: expected a list of numeric ids`);
    return v as number[];
  };
  if (s.allowed_uids !== undefined) out.allowedUids = ids(s.allowed_uids, "server.allowed_uids");
  if (s.allowed_gids !== undefined) out.allowedGids = ids(s.allowed_gids, "server.allowed_gids");
  if (raw.storage?.root !== undefined) out.root = str(raw.storage.root, "storage.root");
  if (raw.storage?.state_dir !== undefined) out.stateDir = str(raw.storage.state_dir, "storage.state_dir");
  const r = raw.runtime ?? {};
  // The CLI's parsers name the flag; from the file, name the file and the key instead.
  const choice = <T>(parse: (value: string) => T, v: unknown, key: string): T => {
    const text = str(v, key)!;
    try {
      return parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${path}: ${key}: ${(err as Error).message.replace(/^[^:]*: /, "")}`);
    }
  };
  if (r.backend !== undefined) out.backend = choice(parseBackend, r.backend, "runtime.backend");
  if (r.default_runtime !== undefined) out.defaultRuntime = str(r.default_runtime, "runtime.default_runtime");
  if (r.conmon !== undefined) out.conmonPath = str(r.conmon, "runtime.conmon");
  if (r.pause !== undefined) out.pausePath = str(r.pause, "runtime.pause");
  if (r.cgroup_parent !== undefined) out.cgroupParent = str(r.cgroup_parent, "runtime.cgroup_parent");
  if (r.enable_pod_events !== undefined)
    out.enablePodEvents = bool(r.enable_pod_events, "runtime.enable_pod_events");
  if (r.runtimes) {
    out.runtimes = {};
    for (const [name, def] of Object.entries(r.runtimes)) {
      const p = str(def?.path, `runtime.runtimes.${name}.path`);
      if (!p) throw new ConfigError(`config file ${path}: runtime.runtimes.${name}.path: expected a string`);
      out.runtimes[name] = { path: p };
    }
  }
  if (raw.images?.backend !== undefined)
    out.imageBackend = choice(parseImageBackend, raw.images.backend, "images.backend");
  if (raw.images?.auth_file !== undefined) out.authFile = str(raw.images.auth_file, "images.auth_file");
  if (raw.images?.upstream_fallback !== undefined)
    out.upstreamFallback = bool(raw.images.upstream_fallback, "images.upstream_fallback");
  const limits: ImageLimitsConfig = {};
  const positive = (v: unknown, key: string): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      throw new ConfigError(`config file ${path}: images.${key}: expected a non-negative integer`);
    return v;
  };
  const im = raw.images ?? {};
  if (im.max_layer_expanded_bytes !== undefined)
    limits.maxLayerBytes = positive(im.max_layer_expanded_bytes, "max_layer_expanded_bytes");
  if (im.max_layer_expansion_ratio !== undefined)
    limits.maxLayerExpansion = positive(im.max_layer_expansion_ratio, "max_layer_expansion_ratio");
  if (im.max_image_expanded_bytes !== undefined)
    limits.maxImageBytes = positive(im.max_image_expanded_bytes, "max_image_expanded_bytes");
  if (Object.keys(limits).length > 0) out.imageLimits = limits;
  const n = raw.network ?? {};
  if (n.conf_dir !== undefined) out.cniConfDir = str(n.conf_dir, "network.conf_dir");
  if (n.cache_dir !== undefined) out.cniCacheDir = str(n.cache_dir, "network.cache_dir");
  if (n.bin_dirs !== undefined) {
    if (
      !Array.isArray(n.bin_dirs) ||
      n.bin_dirs.length === 0 ||
      n.bin_dirs.some((d) => typeof d !== "string" || d === "")
    )
      throw new ConfigError(
        `config file ${path}: network.bin_dirs: expected a non-empty list of directories`,
      );
    out.cniBinDirs = n.bin_dirs as string[];
  }
  const st = raw.streaming ?? {};
  if (st.address !== undefined) {
    out.streamingAddress = str(st.address, "streaming.address");
    if (!out.streamingAddress)
      throw new ConfigError(`config file ${path}: streaming.address: expected an address`);
  }
  if (st.port !== undefined) out.streamingPort = port(st.port, "streaming.port");
  if (st.idle_timeout !== undefined) {
    try {
      out.streamingIdleTimeout = parseDurationSeconds(st.idle_timeout, "streaming.idle_timeout");
    } catch (err) {
      throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
    }
  }
  const lg = raw.log ?? {};
  if (lg.level !== undefined) out.logLevel = choice(parseLogLevel, lg.level, "log.level");
  if (lg.format !== undefined) out.logFormat = choice(parseLogFormat, lg.format, "log.format");
  if (raw.registries) {
    out.registries = {};
    for (const [host, def] of Object.entries(raw.registries)) {
      const mirrors = def?.mirrors;
      if (mirrors !== undefined && (!Array.isArray(mirrors) || mirrors.some((m) => typeof m !== "string")))
        throw new ConfigError(
          `config file ${path}: registries."${host}".mirrors: expected a list of strings`,
        );
      if (def?.insecure !== undefined && typeof def.insecure !== "boolean")
        throw new ConfigError(`config file ${path}: registries."${host}".insecure: expected true or false`);
      const fallback = def?.upstream_fallback;
      out.registries[host] = {
        mirrors,
        insecure: def?.insecure,
        ...(fallback !== undefined
          ? { upstreamFallback: bool(fallback, `registries."${host}".upstream_fallback`) }
          : {}),
      };
    }
  }
  return out;
}

export function parseBackend(value: string): RuntimeBackendName {
  if (value === "auto" || value === "memory" || value === "oci") return value;
  throw new ConfigError(`backend: expected "auto", "memory" or "oci", got "${value}"`);
}

export function parseImageBackend(value: string): ImageBackendName {
  if (value === "memory" || value === "disk") return value;
  throw new ConfigError(`image backend: expected "memory" or "disk", got "${value}"`);
}

/** A log level, as `--log-level`, SERVIN_LOG_LEVEL and `[log] level` take it. */
export function parseLogLevel(value: string, source = "--log-level"): LogLevel {
  if (isLogLevel(value)) return value;
  throw new ConfigError(`${source}: expected one of ${LOG_LEVELS.join(", ")}, got "${value}"`);
}

/** A log format, as `--log-format`, SERVIN_LOG_FORMAT and `[log] format` take it. */
export function parseLogFormat(value: string, source = "--log-format"): LogFormat {
  if (isLogFormat(value)) return value;
  throw new ConfigError(`${source}: expected one of ${LOG_FORMATS.join(", ")}, got "${value}"`);
}

export function parsePort(value: string | number): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new ConfigError(`--port: expected an integer 0-65535, got "${value}"`);
  return n;
}

/** A duration as seconds: a positive number of seconds, or "90s", "5m", "4h", "1h30m" (Go's spelling, as containerd's stream_idle_timeout). */
export function parseDurationSeconds(value: unknown, key: string): number {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  if (typeof value === "string" && /^(\d+(\.\d+)?(h|m|s|ms))+$/.test(value)) {
    const unit = { h: 3600, m: 60, s: 1, ms: 0.001 } as const;
    let total = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g))
      total += Number(m[1]) * unit[m[2] as keyof typeof unit];
    if (total > 0) return total;
  }
  throw new ConfigError(
    `${key}: expected a positive duration ("30s", "5m", "4h") or seconds, got ${JSON.stringify(value)}`,
  );
}

/** `--streaming-address host` or `host:port` (IPv6 in brackets). */
export function parseStreamingAddress(value: string): { address: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  if (m) {
    const port = Number(m[2]);
    if (port > 65535) throw new ConfigError(`--streaming-address: port expected 0-65535, got "${m[2]}"`);
    return { address: m[1]!.replace(/^\[|\]$/g, ""), port };
  }
  if (value === "") throw new ConfigError("--streaming-address: expected an address");
  return { address: value.replace(/^\[|\]$/g, "") };
}
