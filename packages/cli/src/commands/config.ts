/**
 * `servin config check [--config FILE]` validates a config file exactly as `cri start` reads it;
 * `servin config default` prints every key of the file with its default value.
 */
import { defaultPaths } from "@servin/node-kit";
import { defineCommand } from "citty";
import { defaultConfig, type ServinConfig } from "../config/config.js";
import { hostOfHostPort, isLoopbackHost } from "../daemon/peer-cred.js";
import { resolveStartConfig } from "./cri/start.js";

export const configCheckCommand = defineCommand({
  args: {
    config: { type: "string", description: "Config file (default /etc/servin/config.toml as root)" },
  },
  async run({ args }) {
    const file = args.config || defaultPaths().configFile;
    // cri start's own reading: unknown keys, types and ranges are refused with the key named
    const config = await resolveStartConfig({ config: file });
    // …and what the daemon refuses at start-up before it listens
    if (!config.tokenFile && !isLoopbackHost(config.host))
      throw new Error(
        `config file ${file}: server.host: "${config.host}" is beyond loopback, which requires server.token_file`,
      );
    if (!config.tokenFile && config.grpcTcp && !isLoopbackHost(hostOfHostPort(config.grpcTcp)))
      throw new Error(
        `config file ${file}: server.grpc_tcp: "${config.grpcTcp}" is beyond loopback, which requires server.token_file`,
      );
    process.stdout.write(`${file}: OK\n`);
  },
});

export const configDefaultCommand = defineCommand({
  args: {},
  run() {
    process.stdout.write(defaultConfigToml());
  },
});

const q = (s: string) => JSON.stringify(s);
const list = (xs: readonly (string | number)[]) =>
  `[${xs.map((x) => (typeof x === "string" ? q(x) : x)).join(", ")}]`;

const duration = (seconds: number) => (seconds % 3600 === 0 ? `${seconds / 3600}h` : `${seconds}s`);

/**
 * The default configuration as a TOML file holding every key (the ones whose default is computed
 * elsewhere are commented out, with that default); `cri start --config` reads it as the defaults.
 *
 * @example
 * writeFileSync("/etc/servin/config.toml", defaultConfigToml());
 */
export function defaultConfigToml(config: ServinConfig = defaultConfig()): string {
  return `# servin configuration (servin config default). Flags given to \`servin cri start\` override it.

[server]
# HTTP/JSON API address; beyond loopback requires token_file.
host = ${q(config.host)}
port = ${config.port}
# gRPC CRI unix socket for kubelet and crictl ("" turns gRPC off).
grpc_socket = ${q(config.grpcSocket)}
# Optional gRPC on TCP, "host:port" ("" = off).
grpc_tcp = ${q(config.grpcTcp)}
# File holding the bearer token clients must send ("" = none: loopback peers are checked by uid instead).
token_file = ${q(config.tokenFile)}
# Without a token: uids and groups admitted besides root.
allowed_uids = ${list(config.allowedUids)}
allowed_gids = ${list(config.allowedGids)}

[storage]
root = ${q(config.root)}
state_dir = ${q(config.stateDir)}

[runtime]
# auto | oci | memory (auto: oci when root with runc and conmon).
backend = ${q(config.backend)}
default_runtime = ${q(config.defaultRuntime)}
# conmon and the pause program ("" = found on PATH).
conmon = ${q(config.conmonPath)}
pause = ${q(config.pausePath)}
cgroup_parent = ${q(config.cgroupParent)}
# PodSandboxStatus answers containers_statuses and timestamp (kubelet's evented PLEG), as CRI-O's option.
enable_pod_events = ${config.enablePodEvents}

# Runtime handlers (RunPodSandbox's runtime_handler) and their OCI runtime binaries:
# [runtime.runtimes.runc]
# path = "/usr/sbin/runc"
# [runtime.runtimes.crun]
# path = "/usr/bin/crun"

[images]
# disk | memory
backend = ${q(config.imageBackend)}
# docker-style credentials ("" = $DOCKER_CONFIG/config.json or ~/.docker/config.json).
auth_file = ${q(config.authFile)}
# Whether a registry with mirrors is tried itself when its mirrors fail or lack the image.
upstream_fallback = ${config.upstreamFallback}
# Decompression caps (defaults of @servin/image-store: 32 GiB per layer, 100x its compressed size, 64 GiB per image):
# max_layer_expanded_bytes = 34359738368
# max_layer_expansion_ratio = 100
# max_image_expanded_bytes = 68719476736

# Registry mirrors and insecure registries, per host:
# [registries."docker.io"]
# mirrors = ["http://127.0.0.1:5000"]
# insecure = false
# upstream_fallback = true

[network]
conf_dir = ${q(config.cniConfDir)}
bin_dirs = ${list(config.cniBinDirs)}
# CNI attachment records ("" = <root>/cni).
cache_dir = ${q(config.cniCacheDir)}

[streaming]
# Exec/Attach/PortForward server (port 0 = a free one).
address = ${q(config.streamingAddress)}
port = ${config.streamingPort}
idle_timeout = ${q(duration(config.streamingIdleTimeout))}

[log]
# debug | info | warn | error (SERVIN_LOG_LEVEL and --log-level win; --verbose is debug)
level = ${q(config.logLevel)}
# text | json (SERVIN_LOG_FORMAT and --log-format win)
format = ${q(config.logFormat)}
`;
}
