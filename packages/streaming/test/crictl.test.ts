/**
 * The real Go client: cri-tools' crictl 1.26.1 (client-go's SPDY executor over moby/spdystream) against
 * this server, through a CRI stub that answers Exec/Attach/PortForward with our URLs.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CriGrpcServer, createCriGrpcServer } from "@servin/cri-grpc";
import {
  type AttachRequest,
  CriError,
  type ExecRequest,
  type ImageService,
  type PortForwardRequest,
  type RuntimeService,
} from "@servin/cri-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { type EchoServer, startEchoServer } from "./echo-server.js";
import { type HostProcessRuntime, hostProcessRuntime } from "./host-process-runtime.js";

const CRICTL =
  process.env.SERVIN_CRICTL ??
  fileURLToPath(new URL("../../../../shared/conformance/bin/crictl", import.meta.url));
const missing = existsSync(CRICTL) ? undefined : `crictl not found at ${CRICTL}`;
if (missing && process.env.SERVIN_REQUIRE_REAL === "1")
  throw new Error(`SERVIN_REQUIRE_REAL=1 but ${missing}`);

let dir: string;
let endpoint: string;
let cri: CriGrpcServer;
let server: StreamingServer;
let runtime: HostProcessRuntime;
let echo: EchoServer;

/** A CRI service that answers Version and the three streaming RPCs; everything else is Unimplemented. */
function streamingOnly<T extends object>(methods: Partial<Record<string, (req: never) => unknown>>): T {
  return new Proxy(methods, {
    get: (target, name) =>
      typeof name === "string" && name in target
        ? async (req: never) => target[name]!(req)
        : async () => {
            throw CriError.unimplemented(String(name));
          },
  }) as T;
}

beforeAll(async () => {
  if (missing) return;
  dir = await mkdtemp(join(tmpdir(), "servin-streaming-"));
  runtime = hostProcessRuntime();
  server = await startStreamingServer({ runtime });
  echo = await startEchoServer();
  cri = createCriGrpcServer({
    runtime: streamingOnly<RuntimeService>({
      version: () => ({
        version: "0.1.0",
        runtimeName: "stub",
        runtimeVersion: "0",
        runtimeApiVersion: "v1",
      }),
      exec: (req: ExecRequest) => server.getExec(req),
      attach: (req: AttachRequest) => server.getAttach(req),
      portForward: (req: PortForwardRequest) => server.getPortForward(req),
    }),
    images: streamingOnly<ImageService>({}),
    socketPath: join(dir, "cri.sock"),
  });
  await cri.listen();
  endpoint = `unix://${join(dir, "cri.sock")}`;
});

afterAll(async () => {
  if (missing) return;
  await cri.close();
  await server.close();
  await echo.close();
  await rm(dir, { recursive: true, force: true });
});

function crictl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      CRICTL,
      ["-r", endpoint, "-t", "10s", ...args],
      { timeout: 20_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

describe.skipIf(missing !== undefined)("crictl 1.26 (Go, SPDY) against the streaming server", () => {
  it("exec: stdout and stderr apart, the exit code reported", async () => {
    const result = await crictl(["exec", "ctr", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(result.stdout).toBe("out\n");
    expect(result.stderr).toContain("err\n");
    // crictl 1.26 reports the exit code in its error and exits 1 itself
    // client-go decoded the v4 status: NonZeroExitCode with the ExitCode cause "3"
    expect(result.stderr).toContain("command terminated with exit code 3");
    expect(result.code).toBe(1);
  });

  it("exec -i: piped stdin reaches cat and its end ends it", async () => {
    const big = "0123456789".repeat(50_000);
    const result = await crictl(["exec", "-i", "ctr", "cat"], `hello\n${big}`);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`hello\n${big}`);
  });

  it("exec -it under a real terminal (script): a tty, sized by crictl's resize stream", async () => {
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const child = spawn(
        "script",
        [
          "-qfec",
          `stty cols 91 rows 33; ${CRICTL} -r ${endpoint} exec -it ctr sh -c 'stty size; tty >/dev/null && echo tty-ok'`,
          "/dev/null",
        ],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.once("close", (code) => resolve({ code: code ?? -1, stdout }));
    });
    expect(result.stdout).toContain("33 91");
    expect(result.stdout).toContain("tty-ok");
    expect(result.code).toBe(0);
  });

  it("attach: output of the running process", async () => {
    const container = runtime.startContainer("att", ["sh", "-c", "while sleep 0.05; do echo tick; done"]);
    const child = spawn(CRICTL, ["-r", endpoint, "attach", "att"], { stdio: ["ignore", "pipe", "pipe"] });
    const text = await new Promise<string>((resolve) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("tick\ntick\n")) resolve(out);
      });
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
      child.once("close", () => resolve(out));
    });
    child.kill();
    container.process.kill();
    expect(text).toContain("tick\ntick\n");
  });

  it("port-forward: several connections through crictl's local listener", async () => {
    const local = 20000 + (process.pid % 20000);
    const child = spawn(CRICTL, ["-r", endpoint, "port-forward", "pod", `${local}:${echo.port}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    try {
      for (let i = 0; i < 50 && !log.includes("Forwarding from"); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(log).toContain("Forwarding from");
      const replies = await Promise.all(
        [1, 2, 3, 4].map(
          (i) =>
            new Promise<string>((resolve, reject) => {
              const socket = connect({ host: "127.0.0.1", port: local });
              let text = "";
              socket.on("data", (chunk: Buffer) => {
                text += chunk.toString();
                if (text.length >= 100_000) socket.end();
              });
              socket.once("error", reject);
              socket.once("close", () => resolve(text));
              socket.write(String(i).repeat(100_000));
            }),
        ),
      );
      expect(replies).toEqual([1, 2, 3, 4].map((i) => String(i).repeat(100_000)));
    } finally {
      child.kill();
    }
  });
});
