/** Registry configuration: mirrors, insecure hosts, credentials, and network behaviour of pulls. */

/**
 * How servin reaches registries. The same object is built from servin's
 * config file (`[registries]`) for the HTTP/JSON, gRPC and CLI paths.
 *
 * @example
 * const registries: RegistryConfig = {
 *   mirrors: { "docker.io": ["http://127.0.0.1:5001", "https://mirror.example.com"] },
 *   insecure: ["registry.lan:5000"],
 * };
 */
export interface RegistryConfig {
  /**
   * Mirrors per registry host (`docker.io`, `ghcr.io`, `myreg:5000`), tried in
   * order before the registry itself, which is always the last fallback.
   * An entry is a URL (`http://…` or `https://…`) or a bare `host[:port]` (HTTPS).
   */
  mirrors?: Record<string, string[]>;
  /**
   * Hosts (`host` or `host:port`) that may be reached over plain HTTP or TLS
   * without certificate verification (HTTPS is tried first). `localhost`,
   * `127.0.0.0/8` and `::1` are always reachable over plain HTTP, as with Docker.
   */
  insecure?: string[];
  /** A docker `config.json` with `auths`; default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  authConfigPath?: string;
  /** Layer downloads in flight per pull (containerd's default is 3). */
  maxConcurrentDownloads?: number;
  /** Socket inactivity timeout per request, ms (default 30 000). */
  timeoutMs?: number;
  /** Retries of a request after a transient failure (network error, 429, 5xx); default 3. */
  retries?: number;
}

/** Caps on untrusted input; anything larger is rejected with a clear error. */
export interface StoreLimits {
  /** Manifests and indexes (default 4 MiB, as containerd). */
  maxManifestBytes?: number;
  /** Image configs (default 8 MiB). */
  maxConfigBytes?: number;
  /** Uncompressed bytes of one layer: the decompression-bomb cap (default 32 GiB). */
  maxLayerBytes?: number;
  /** Entries in one layer (default 1 000 000). */
  maxLayerEntries?: number;
}

export const DEFAULT_LIMITS: Required<StoreLimits> = {
  maxManifestBytes: 4 * 1024 * 1024,
  maxConfigBytes: 8 * 1024 * 1024,
  maxLayerBytes: 32 * 1024 * 1024 * 1024,
  maxLayerEntries: 1_000_000,
};
