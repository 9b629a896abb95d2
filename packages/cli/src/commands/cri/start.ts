/** `servin cri start`: serve the CRI over HTTP/JSON and gRPC until SIGINT/SIGTERM. */
import { defaultPaths } from "@servin/node-kit";
import { defineCommand } from "citty";
import { handleBrokenPipes } from "../../_broken-pipe.js";
import {
  ConfigError,
  defaultConfig,
  loadConfigFile,
  parseBackend,
  parseImageBackend,
  parseLogFormat,
  parseLogLevel,
  parsePort,
  parseStreamingAddress,
  type ServinConfig,
} from "../../config/config.js";
import { startServinDaemon } from "../../daemon/daemon.js";
import { createDaemonLogger } from "../../daemon/log.js";
import { hostOfHostPort, isLoopbackHost } from "../../daemon/peer-cred.js";
import { VERSION } from "../../version.js";

/** True for "127.x.x.x:port", "[::1]:port" and "localhost:port": the daemon's own loopback rule. */
export function isLoopbackHostPort(address: string): boolean {
  return isLoopbackHost(hostOfHostPort(address));
}

export const startArgs = {
  host: {
    type: "string",
    description: "Address to listen on (default 127.0.0.1; other addresses expose container control)",
  },
  port: { type: "string", description: "HTTP port (default 8080; 0 picks a free one)" },
  verbose: {
    type: "boolean",
    description: "Same as --log-level debug: every request, and stacks of internal errors",
  },
  "log-level": {
    type: "string",
    description: "debug | info | warn | error (default info; env SERVIN_LOG_LEVEL, config [log] level)",
  },
  "log-format": {
    type: "string",
    description:
      "text | json: JSON lines with time, level, msg and fields (default text; env SERVIN_LOG_FORMAT)",
  },
  backend: {
    type: "string",
    description: "Runtime backend: auto | oci | memory (default auto: oci when root with runc and conmon)",
  },
  "image-backend": { type: "string", description: "Image backend: disk | memory (default disk)" },
  root: { type: "string", description: "Persistent data directory (default /var/lib/servin as root)" },
  "state-dir": { type: "string", description: "Runtime state directory (default /run/servin as root)" },
  config: { type: "string", description: "Config file (default /etc/servin/config.toml as root)" },
  "token-file": {
    type: "string",
    description:
      "Require `Authorization: Bearer <token>` on HTTP and gRPC TCP (token read from this file); needed beyond loopback",
  },
  "grpc-socket": { type: "string", description: "gRPC unix socket path ('' turns gRPC off)" },
  grpc: { type: "boolean", description: "Serve gRPC (use --no-grpc to turn it off)", default: true },
  "grpc-tcp": {
    type: "string",
    description: "Also serve gRPC on this TCP address (host:port); off by default",
  },
  "cni-conf-dir": {
    type: "string",
    description: "CNI network config directory (default /etc/cni/net.d)",
  },
  "cni-bin-dir": {
    type: "string",
    description:
      "CNI plugin directories, comma-separated, searched in order (default /opt/cni/bin,/usr/lib/cni)",
  },
  "enable-pod-events": {
    type: "boolean",
    description:
      "PodSandboxStatus answers containers_statuses and timestamp, for kubelet's evented PLEG (default off, as CRI-O; config [runtime] enable_pod_events)",
  },
  "streaming-address": {
    type: "string",
    description:
      "Where the streaming server for exec/attach/port-forward listens: host or host:port (default 127.0.0.1, a free port)",
  },
} as const;

type StartArgs = { [K in keyof typeof startArgs]?: string | boolean };

/** Merges defaults, the config file, the environment (SERVIN_LOG_LEVEL, SERVIN_LOG_FORMAT) and flags, in that order. */
export async function resolveStartConfig(
  args: StartArgs,
  env: Record<string, string | undefined> = process.env,
): Promise<ServinConfig> {
  const paths = defaultPaths();
  const explicitConfig = typeof args.config === "string" && args.config !== "";
  const fromFile = await loadConfigFile(
    explicitConfig ? (args.config as string) : paths.configFile,
    explicitConfig,
  );
  const config: ServinConfig = { ...defaultConfig(), ...fromFile };
  const str = (key: keyof StartArgs) => (typeof args[key] === "string" ? (args[key] as string) : undefined);
  if (str("host") !== undefined) config.host = str("host")!;
  if (str("port") !== undefined) config.port = parsePort(str("port")!);
  if (env.SERVIN_LOG_LEVEL) config.logLevel = parseLogLevel(env.SERVIN_LOG_LEVEL, "SERVIN_LOG_LEVEL");
  if (env.SERVIN_LOG_FORMAT) config.logFormat = parseLogFormat(env.SERVIN_LOG_FORMAT, "SERVIN_LOG_FORMAT");
  if (args.verbose === true) {
    config.verbose = true;
    config.logLevel = "debug";
  }
  if (str("log-level") !== undefined) config.logLevel = parseLogLevel(str("log-level")!);
  if (str("log-format") !== undefined) config.logFormat = parseLogFormat(str("log-format")!);
  if (str("backend") !== undefined) config.backend = parseBackend(str("backend")!);
  if (str("image-backend") !== undefined) config.imageBackend = parseImageBackend(str("image-backend")!);
  if (str("root") !== undefined) config.root = str("root")!;
  if (str("state-dir") !== undefined) config.stateDir = str("state-dir")!;
  if (str("token-file") !== undefined) config.tokenFile = str("token-file")!;
  if (str("grpc-socket") !== undefined) config.grpcSocket = str("grpc-socket")!;
  if (args.grpc === false) config.grpcSocket = "";
  if (str("grpc-tcp") !== undefined) config.grpcTcp = str("grpc-tcp")!;
  if (str("cni-conf-dir") !== undefined) config.cniConfDir = str("cni-conf-dir")!;
  if (str("cni-bin-dir") !== undefined) {
    const dirs = str("cni-bin-dir")!
      .split(",")
      .map((d) => d.trim())
      .filter((d) => d !== "");
    if (dirs.length === 0) throw new ConfigError("--cni-bin-dir: expected one or more directories");
    config.cniBinDirs = dirs;
  }
  // A boolean flag: --enable-pod-events or --no-enable-pod-events; absent, the file's value stays.
  if (typeof args["enable-pod-events"] === "boolean") config.enablePodEvents = args["enable-pod-events"];
  if (str("streaming-address") !== undefined) {
    const s = parseStreamingAddress(str("streaming-address")!);
    config.streamingAddress = s.address;
    if (s.port !== undefined) config.streamingPort = s.port;
  }
  if (!config.host) throw new ConfigError("--host: expected an address");
  return config;
}

export const startCommand = defineCommand({
  args: startArgs,
  async run({ args }) {
    // The daemon outlives whoever reads its logs: a closed stdout/stderr must never stop the server.
    handleBrokenPipes("ignore");
    const config = await resolveStartConfig(args as StartArgs);
    const log = createDaemonLogger({ level: config.logLevel, format: config.logFormat });
    // (Without --token-file the daemon refuses these addresses: beyond loopback only a token says who calls.)
    if (!isLoopbackHost(config.host) && config.tokenFile) {
      log.warn(
        `listening on ${config.host}: anyone who can reach this address and holds the token can run containers on this machine`,
      );
    }
    if (config.grpcTcp && !isLoopbackHostPort(config.grpcTcp) && config.tokenFile) {
      log.warn(
        `gRPC on tcp ${config.grpcTcp}: anyone who can reach it and holds the token can run containers on this machine`,
      );
    }
    const daemon = await startServinDaemon(config, log);
    log.info(
      `servin ${VERSION} listening on ${daemon.http.url} (runtime backend: ${daemon.backendName}, images: ${config.imageBackend})`,
    );
    if (daemon.grpc?.socketPath) log.info(`gRPC CRI on unix://${daemon.grpc.socketPath}`);
    if (daemon.grpc?.tcpPort) log.info(`gRPC CRI on tcp port ${daemon.grpc.tcpPort}`);
    log.info(`data in ${config.root}, state in ${config.stateDir}`);

    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info(`${signal}: shutting down (containers keep running)`);
        daemon.close().then(resolve, (err) => {
          log.error("shutdown failed", err);
          resolve();
        });
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
    });
  },
});
