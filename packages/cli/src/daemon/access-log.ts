/**
 * One access line per CRI request, HTTP and gRPC alike, at the level a node wants: kubelet polls its
 * read RPCs (ListContainers, PodSandboxStatus, ImageFsInfo…) every second or so, and containerd logs
 * those at debug. So: what changes the node (or opens a session in it) at info, reads, exec probes
 * and log reopens at debug,
 * a refusal or failure at info, a fault of ours (5xx, Internal, Unavailable…) and every refused
 * credential (401, 403, Unauthenticated, PermissionDenied) at warn, whatever the RPC.
 */
import type { AccessRecord } from "@servin/cri-http";
import { RPCS, type RpcName } from "@servin/cri-messages";
import type { Logger } from "@servin/node-kit";
import { isDaemonLogger, type LogFields, type LogLevel } from "./log.js";

/**
 * At debug when they succeed: the RPCs that only read (kubelet polls them), and what kubelet calls
 * on a timer although it changes something: ExecSync (exec probes, every period of every probe) and
 * ReopenContainerLog (log rotation). containerd logs these at debug too.
 */
const QUIET: ReadonlySet<string> = new Set<RpcName>([
  "execSync",
  "reopenContainerLog",
  "version",
  "status",
  "runtimeConfig",
  "podSandboxStatus",
  "listPodSandbox",
  "podSandboxStats",
  "listPodSandboxStats",
  "listPodSandboxMetrics",
  "listMetricDescriptors",
  "listContainers",
  "containerStatus",
  "containerStats",
  "listContainerStats",
  "getContainerEvents",
  "listImages",
  "imageStatus",
  "imageFsInfo",
]);

/** HTTP routes that are not CRI calls and are polled (health checks, Prometheus scrapes). */
const POLLED_PATHS: ReadonlySet<string> = new Set(["/health", "/metrics"]);

/** CRI codes that mean servin (or the host) failed, not the request. */
const FAULTS: ReadonlySet<string> = new Set(["Internal", "Unknown", "DataLoss", "Unavailable"]);

/** The level of an HTTP request's access line. */
export function httpAccessLevel(record: Pick<AccessRecord, "method" | "path" | "rpc" | "status">): LogLevel {
  if (record.status === 401 || record.status === 403 || record.status >= 500) return "warn";
  if (record.status >= 400) return "info";
  if (record.rpc ? QUIET.has(record.rpc) : record.method === "GET") return "debug";
  return POLLED_PATHS.has(record.path) ? "debug" : "info";
}

/** The level of a gRPC call's access line. */
export function grpcAccessLevel(rpc: string, code: string): LogLevel {
  if (code === "Unauthenticated" || code === "PermissionDenied" || FAULTS.has(code)) return "warn";
  if (code !== "OK") return "info";
  return QUIET.has(rpc) ? "debug" : "info";
}

const ms = (durationMs: number) => Math.round(durationMs * 10) / 10;

export interface AccessLog {
  http(record: AccessRecord): void;
  grpc(call: { rpc: string; code: string; durationMs: number }): void;
}

/**
 * Writes access lines to `logger`: structured fields when it takes them (the daemon's own logger),
 * else one text line. `uidOf` names the user behind a TCP peer when servin asked the kernel.
 *
 * @example
 * const access = createAccessLog(logger, () => undefined);
 * access.grpc({ rpc: "runPodSandbox", code: "OK", durationMs: 812.4 });
 * // 2026-… INFO  grpc RunPodSandbox OK transport=grpc rpc=RunPodSandbox code=OK duration_ms=812.4
 */
export function createAccessLog(
  logger: Logger,
  uidOf: (peer: NonNullable<AccessRecord["peer"]>) => number | undefined,
): AccessLog {
  const write = (level: LogLevel, msg: string, fields: LogFields) => {
    if (isDaemonLogger(logger)) return logger.entry(level, msg, fields);
    let text = msg;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) text += ` ${k}=${v}`;
    logger[level](text);
  };
  return {
    http(record) {
      const level = httpAccessLevel(record);
      if (logger.enabled?.(level) === false) return;
      const peer = record.peer;
      write(level, `http ${record.method} ${record.path} ${record.status}`, {
        transport: "http",
        method: record.method,
        path: record.path,
        rpc: record.rpc,
        status: record.status,
        duration_ms: ms(record.durationMs),
        peer: peer ? `${peer.remoteAddress}:${peer.remotePort}` : undefined,
        uid: peer ? uidOf(peer) : undefined,
      });
    },
    grpc({ rpc, code, durationMs }) {
      const level = grpcAccessLevel(rpc, code);
      if (logger.enabled?.(level) === false) return;
      // The .proto's method name: what gRPC users and kubelet's own logs call it.
      const method = (RPCS as Record<string, { grpc: string } | undefined>)[rpc]?.grpc ?? rpc;
      write(level, `grpc ${method} ${code}`, {
        transport: "grpc",
        rpc: method,
        code,
        duration_ms: ms(durationMs),
      });
    },
  };
}
