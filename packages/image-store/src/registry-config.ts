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
  /**
   * Whether a registry with mirrors is itself tried when every mirror failed
   * or lacked the image (default true, as containerd). `false` keeps pulls on
   * the mirrors: the registry is never contacted. Hosts without mirrors are
   * always pulled from the registry.
   */
  upstreamFallback?: boolean;
  /** Per-host override of `upstreamFallback`, e.g. `{ "docker.io": false }`. */
  upstreamFallbackFor?: Record<string, boolean>;
}

/**
 * Caps on untrusted input; anything larger is rejected with a clear error.
 * A layer may expand to `min(maxLayerBytes, max(maxLayerExpansion × its
 * compressed size, layerExpansionFloor))`, and all the layers a pull unpacks
 * to `maxImageBytes` together: counted on the decompressed stream, the unpack
 * stops at the first byte over, before writing it.
 */
export interface StoreLimits {
  /** Manifests and indexes (default 4 MiB, as containerd). */
  maxManifestBytes?: number;
  /** Image configs (default 8 MiB). */
  maxConfigBytes?: number;
  /** Uncompressed bytes of one layer, whatever its compressed size (default 32 GiB). */
  maxLayerBytes?: number;
  /** Uncompressed bytes of one layer per compressed byte (default 100; 0 = no ratio cap). */
  maxLayerExpansion?: number;
  /** What any layer may expand to regardless of the ratio, so small layers are not judged by it (default 1 GiB). */
  layerExpansionFloor?: number;
  /** Uncompressed bytes of all the layers one pull or import unpacks (default 64 GiB). */
  maxImageBytes?: number;
  /** Entries in one layer (default 1 000 000). */
  maxLayerEntries?: number;
}

const GiB = 1024 * 1024 * 1024;

/**
 * Real layers expand 2–5× (text-heavy ones 10–20×); only zero-filled files go
 * far beyond, and deflate cannot exceed ~1032× at all, so 100× with a 1 GiB
 * floor passes every real image while a bomb stops after 1 GiB or 100× its
 * size. The absolute caps sit above the largest public images (CUDA and ML
 * images unpack to some 20–30 GiB in all).
 */
export const DEFAULT_LIMITS: Required<StoreLimits> = {
  maxManifestBytes: 4 * 1024 * 1024,
  maxConfigBytes: 8 * 1024 * 1024,
  maxLayerBytes: 32 * GiB,
  maxLayerExpansion: 100,
  layerExpansionFloor: GiB,
  maxImageBytes: 64 * GiB,
  maxLayerEntries: 1_000_000,
};
