/** The Exec/Attach/PortForward requests a URL is issued for, checked as kubelet's streaming server checks them. */
import { CriError } from "@servin/cri-types";

export interface ExecRequest {
  containerId: string;
  cmd: readonly string[];
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

export interface AttachRequest {
  containerId: string;
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
}

export interface PortForwardRequest {
  podSandboxId: string;
  /** Ports the URL may reach; empty allows any (kubelet sends none for SPDY clients: the ports come per stream). */
  port?: readonly number[];
}

/** The normalised streams an Exec or Attach session asked for. */
export interface StreamSelection {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export type PendingRequest =
  | { kind: "exec"; containerId: string; cmd: readonly string[]; streams: StreamSelection }
  | { kind: "attach"; containerId: string; streams: StreamSelection }
  | { kind: "portforward"; podSandboxId: string; ports: readonly number[] };

function checkId(field: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw CriError.invalidArgument(`${field}: expected a non-empty string`);
  }
  return value;
}

// kubelet's validateExecRequest / validateAttachRequest
function selection(rpc: string, req: ExecRequest | AttachRequest): StreamSelection {
  const streams = {
    stdin: req.stdin === true,
    stdout: req.stdout === true,
    stderr: req.stderr === true,
    tty: req.tty === true,
  };
  if (streams.tty && streams.stderr) {
    throw CriError.invalidArgument(`${rpc}: tty and stderr cannot both be true`);
  }
  if (!streams.stdin && !streams.stdout && !streams.stderr) {
    throw CriError.invalidArgument(`${rpc}: one of stdin, stdout, or stderr must be set`);
  }
  return streams;
}

export function checkExec(req: ExecRequest): PendingRequest {
  const containerId = checkId("container_id", req.containerId);
  if (!Array.isArray(req.cmd) || req.cmd.length === 0 || req.cmd.some((arg) => typeof arg !== "string")) {
    throw CriError.invalidArgument("cmd: expected a non-empty list of strings");
  }
  return { kind: "exec", containerId, cmd: [...req.cmd], streams: selection("exec", req) };
}

export function checkAttach(req: AttachRequest): PendingRequest {
  const containerId = checkId("container_id", req.containerId);
  return { kind: "attach", containerId, streams: selection("attach", req) };
}

export function checkPortForward(req: PortForwardRequest): PendingRequest {
  const podSandboxId = checkId("pod_sandbox_id", req.podSandboxId);
  const ports = [...(req.port ?? [])];
  for (const port of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw CriError.invalidArgument(`port: ${String(port)} is not a port number (1-65535)`);
    }
  }
  return { kind: "portforward", podSandboxId, ports };
}

/** Parses a port as kubelet does (decimal, 1-65535); the error text matches kubelet's. */
export function parsePort(text: string): number | Error {
  if (!/^[0-9]{1,5}$/.test(text)) return new Error(`unable to parse "${text.slice(0, 32)}" as a port`);
  const port = Number(text);
  if (port > 65535) return new Error(`unable to parse "${text}" as a port: value out of range`);
  if (port < 1) return new Error(`port "${text}" must be > 0`);
  return port;
}
