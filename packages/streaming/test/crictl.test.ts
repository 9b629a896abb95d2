/**
 * The real Go client: cri-tools' crictl 1.26.1 (client-go's SPDY executor over moby/spdystream) against
 * this server, through a CRI stub that answers Exec/Attach/PortForward with our URLs.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CriGrpcServer, createCriGrpcServer } from "@servin/cri-grpc";
import {
  type AttachRequest,
  CriError,
  type ExecRequest,
  type ImageService,
  type PortForwardRequest,
  type RuntimeService,
} from "@servin/cri-types";
import {
  CRICTL,
  type CrictlResult,
  crictlAttachUntil,
  crictlInTerminal,
  crictlPortForward,
  roundTrip,
  runCrictl,
} from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { type EchoServer, startEchoServer } from "./echo-server.js";
import { type HostProcessRuntime, hostProcessRuntime } from "./host-process-runtime.js";

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

function crictl(args: string[], input?: string): Promise<CrictlResult> {
  return runCrictl(["-r", endpoint, "-t", "10s", ...args], { input, timeoutMs: 20_000 });
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
    const result = await crictlInTerminal(
      endpoint,
      "exec -it ctr sh -c 'stty size; tty >/dev/null && echo tty-ok'",
      { cols: 91, rows: 33 },
    );
    expect(result.stdout).toContain("33 91");
    expect(result.stdout).toContain("tty-ok");
    expect(result.code).toBe(0);
  });

  it("attach: output of the running process", async () => {
    const container = runtime.startContainer("att", ["sh", "-c", "while sleep 0.05; do echo tick; done"]);
    const text = await crictlAttachUntil(endpoint, "att", "tick\ntick\n");
    container.process.kill();
    expect(text).toContain("tick\ntick\n");
  });

  it("port-forward: several connections through crictl's local listener", async () => {
    const local = 20000 + (process.pid % 20000);
    const { child, forwarding } = crictlPortForward(endpoint, "pod", `${local}:${echo.port}`);
    try {
      expect(await forwarding(5_000)).toContain("Forwarding from");
      const replies = await Promise.all([1, 2, 3, 4].map((i) => roundTrip(local, String(i).repeat(100_000))));
      expect(replies).toEqual([1, 2, 3, 4].map((i) => String(i).repeat(100_000)));
    } finally {
      child.kill();
    }
  });
});
