/**
 * For the security tests: `servin cri start` run from the sources (no build
 * needed: the real CLI entry under tsx, in its own process), and clients that
 * send exactly the bytes they are given, bounded in time: HTTP through fetch,
 * gRPC as raw HTTP/2 frames (so malformed protobuf and broken gRPC framing can
 * be sent at all).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:http2";
import { connect as connectSocket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { collectOutput, criStartArgs, stopChild, untilListening } from "./_binary.js";

const ROOT = resolve(import.meta.dirname, "../../..");
const ENTRY = join(ROOT, "apps/servin/src/servin.ts");

export interface SourceServin {
  url: string;
  /** Its private directory: data root, state dir, config. */
  dir: string;
  socket: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export interface SourceServinOptions {
  /** Runtime and image backends; memory ones by default. */
  backend?: "memory" | "oci";
  imageBackend?: "memory" | "disk";
  /** Contents of the config file (TOML). */
  config?: string;
  extra?: string[];
}

/** Starts servin from its TypeScript sources (memory backends unless told); resolves once it listens. */
export async function startSourceServin(opts: SourceServinOptions = {}): Promise<SourceServin> {
  const dir = await mkdtemp(join(tmpdir(), "servin-sec-"));
  await writeFile(join(dir, "none.toml"), opts.config ?? "");
  const socket = join(dir, "run", "servin.sock");
  const child = spawn(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      ENTRY,
      ...criStartArgs(dir, 0, join(dir, "none.toml")),
      "--backend",
      opts.backend ?? "memory",
      "--image-backend",
      opts.imageBackend ?? "memory",
      ...(opts.extra ?? []),
    ],
    { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  // Keep the output bounded: the tests only need its head (where it listens) and its size.
  const output = collectOutput(child, 1_000_000);
  const url = await untilListening(child, output);
  return {
    url,
    dir,
    socket,
    child,
    output,
    stop: async () => {
      await stopChild(child, "SIGTERM");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpAnswer {
  status: number;
  body: string;
  ms: number;
}

/** POSTs raw bytes; a call that takes longer than `timeoutMs` rejects (a hang). Streams are read for their status only. */
export async function postRaw(
  base: string,
  path: string,
  body: string | Uint8Array | undefined,
  opts: { timeoutMs?: number; contentType?: string | null; stream?: boolean } = {},
): Promise<HttpAnswer> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`POST ${path}: no answer within ${opts.timeoutMs ?? 5000} ms`)),
    opts.timeoutMs ?? 5000,
  );
  try {
    const headers: Record<string, string> = {};
    if (opts.contentType !== null) headers["content-type"] = opts.contentType ?? "application/json";
    const res = await fetch(`${base}${path}`, { method: "POST", body, headers, signal: controller.signal });
    if (opts.stream && res.status === 200) {
      // An event stream answered: its status is all we judge; close it.
      await res.body?.cancel();
      return { status: res.status, body: "", ms: performance.now() - started };
    }
    const text = await res.text();
    return { status: res.status, body: text, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** GET /health, bounded like any other call. */
export async function health(base: string, timeoutMs = 5000): Promise<HttpAnswer> {
  const started = performance.now();
  const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, body: await res.text(), ms: performance.now() - started };
}

export interface GrpcAnswer {
  /** grpc-status; -1 when a server stream stayed open (closed by us after `timeoutMs`). */
  code: number;
  message: string;
  /** The HTTP/2 :status. */
  httpStatus: number;
  ms: number;
}

/** A gRPC message frame: compressed flag, big-endian length, payload. `declaredLength` lies about the length when given. */
export function grpcFrame(payload: Uint8Array, declaredLength = payload.length, compressed = 0): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(compressed, 0);
  head.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([head, payload]);
}

/**
 * One gRPC call over a unix socket as raw HTTP/2: `:authority` localhost (as grpc-js sends over
 * unix sockets), the given request bytes as the body. Rejects when nothing answers within
 * `timeoutMs`, except that a server stream still open then counts as open (code -1).
 */
export function grpcRaw(
  socket: string,
  path: string,
  body: Uint8Array,
  opts: { timeoutMs?: number; stream?: boolean } = {},
): Promise<GrpcAnswer> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const started = performance.now();
  return new Promise((resolveCall, rejectCall) => {
    const session = connect("http://localhost", { createConnection: () => connectSocket(socket) });
    let httpStatus = 0;
    let settled = false;
    const finish = (err: Error | undefined, answer?: GrpcAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      if (err) rejectCall(err);
      else resolveCall(answer!);
    };
    const timer = setTimeout(() => {
      // grpc-js sends a server stream's headers with its first message: an event stream with
      // nothing to report yet stays silent, which is not a hang.
      if (opts.stream)
        finish(undefined, { code: -1, message: "stream open", httpStatus, ms: performance.now() - started });
      else finish(new Error(`gRPC ${path}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    session.on("error", (err) => finish(err));
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const fromHeaders = (h: Record<string, unknown>) => {
      const status = h["grpc-status"];
      if (status !== undefined)
        finish(undefined, {
          code: Number(status),
          message: decodeURIComponent(String(h["grpc-message"] ?? "")),
          httpStatus,
          ms: performance.now() - started,
        });
    };
    req.on("response", (h) => {
      httpStatus = Number(h[":status"]);
      fromHeaders(h); // trailers-only answers carry grpc-status here
    });
    req.on("trailers", (h) => fromHeaders(h));
    req.on("data", () => {});
    req.on("end", () => {
      if (!settled)
        finish(undefined, {
          code: -2,
          message: "stream ended without grpc-status",
          httpStatus,
          ms: performance.now() - started,
        });
    });
    req.on("error", (err) => finish(err));
    req.end(body);
  });
}
