/**
 * The daemon's log as its operators read it (issue 11), from the built binary with its output piped:
 * `--log-format json` lines that parse, plain text with timestamps and neither glyphs nor ANSI escapes
 * when not on a terminal, one access line per request for HTTP and gRPC alike, and refused
 * credentials (401) logged at warn.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriGrpcClient } from "@servin/cri-grpc";
import { CRICTL, runCrictl } from "@servin/testkit";
import { afterEach, describe, expect, it } from "vitest";
import {
  assertBuilt,
  BINARY,
  closedPort,
  collectOutput,
  criStartArgs,
  removeDir,
  runCli,
  stopChild,
  untilListening,
} from "./_binary.js";

interface Started {
  url: string;
  socket: string;
  output(): string;
  stop(): Promise<number | null>;
}
const running: Array<{ stop(): Promise<unknown>; dir: string }> = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.stop();
    await removeDir(r.dir);
  }
});

/** `servin cri start` (memory backends) with stdout and stderr piped and NO_COLOR unset: as under systemd. */
async function start(extra: string[], env: NodeJS.ProcessEnv = {}): Promise<Started> {
  assertBuilt();
  const dir = await mkdtemp(join(tmpdir(), "servin-logs-e2e-"));
  await writeFile(join(dir, "none.toml"), "");
  const { NO_COLOR: _unset, FORCE_COLOR: _unset2, ...base } = process.env;
  const child = spawn(
    process.execPath,
    [
      BINARY,
      ...criStartArgs(dir, 0, join(dir, "none.toml")),
      "--backend",
      "memory",
      "--image-backend",
      "memory",
      ...extra,
    ],
    { env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = collectOutput(child);
  const stop = () => stopChild(child, "SIGTERM");
  running.push({ stop, dir });
  const url = await untilListening(child, output);
  return { url, socket: join(dir, "run", "servin.sock"), output, stop };
}

/** Waits (bounded) until `output()` has a line that `match` accepts, and answers it. */
async function lineWhere(output: () => string, match: (line: string) => boolean): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = output()
      .split("\n")
      .find((l) => l !== "" && match(l));
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no such line in:\n${output()}`);
}

const RFC3339_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("servin cri start --log-format json", () => {
  it("writes only JSON lines with time, level and msg, and one access line per HTTP and gRPC request", async () => {
    const servin = await start(["--log-format", "json", "--log-level", "debug"]);
    expect((await fetch(`${servin.url}/v1/runtime/version`, { method: "POST", body: "{}" })).status).toBe(
      200,
    );
    const cri = createCriGrpcClient(`unix://${servin.socket}`, { timeoutMs: 30_000 });
    try {
      await cri.version({});
      await expect(cri.containerStatus({ containerId: "nosuch" })).rejects.toMatchObject({
        code: "NotFound",
      });
    } finally {
      cri.close();
    }
    const isJson = (l: string) => l.startsWith("{");
    const http = JSON.parse(
      await lineWhere(servin.output, (l) => isJson(l) && l.includes('"transport":"http"')),
    );
    expect(http).toMatchObject({
      level: "debug", // a read: kubelet polls these
      msg: "http POST /v1/runtime/version 200",
      transport: "http",
      method: "POST",
      path: "/v1/runtime/version",
      rpc: "version",
      status: 200,
      peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      uid: process.getuid?.(),
    });
    expect(http.duration_ms).toBeGreaterThanOrEqual(0);
    expect(http.time).toMatch(RFC3339_MS);
    const version = JSON.parse(
      await lineWhere(servin.output, (l) => isJson(l) && l.includes('"msg":"grpc Version OK"')),
    );
    expect(version).toMatchObject({ level: "debug", transport: "grpc", rpc: "Version", code: "OK" });
    expect(version.duration_ms).toBeGreaterThanOrEqual(0);
    const missing = JSON.parse(
      await lineWhere(servin.output, (l) => isJson(l) && l.includes('"msg":"grpc ContainerStatus NotFound"')),
    );
    expect(missing).toMatchObject({ level: "info", transport: "grpc", code: "NotFound" });

    if (existsSync(CRICTL)) {
      // The kit's unmodified crictl (a Go gRPC client) is logged the same way.
      const ep = `unix://${servin.socket}`;
      const r = await runCrictl(["--runtime-endpoint", ep, "--image-endpoint", ep, "pods"], {
        timeoutMs: 30_000,
      });
      expect(r.code, r.stderr).toBe(0);
      await lineWhere(servin.output, (l) => l.includes('"msg":"grpc ListPodSandbox OK"'));
      // …and counted on /metrics under transport="grpc".
      const metrics = await (await fetch(`${servin.url}/metrics`)).text();
      expect(metrics).toContain(
        'servin_cri_requests_total{transport="grpc",rpc="listPodSandbox",status="OK"} 1\n',
      );
    }

    expect(await servin.stop()).toBe(0);
    const lines = servin
      .output()
      .split("\n")
      .filter((l) => l !== "");
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      const entry = JSON.parse(line);
      expect(entry.time).toMatch(RFC3339_MS);
      expect(["debug", "info", "warn", "error"]).toContain(entry.level);
      expect(typeof entry.msg).toBe("string");
    }
  }, 60_000);
});

describe("servin cri start, text to a pipe", () => {
  it("prints timestamped lines with neither glyphs nor ANSI escapes, and logs a 401 at warn", async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-logs-token-"));
    running.push({ stop: async () => {}, dir });
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, "s3cret\n");
    const servin = await start(["--token-file", tokenFile]);
    const denied = await fetch(`${servin.url}/v1/runtime/version`, { method: "POST", body: "{}" });
    expect(denied.status).toBe(401);
    const ok = await fetch(`${servin.url}/v1/runtime/sandbox/stop`, {
      method: "POST",
      headers: { authorization: "Bearer s3cret" },
      body: '{"pod_sandbox_id":"nosuch"}',
    });
    expect(ok.status).toBe(200); // stopping an absent pod is a no-op (CRI idempotency)
    const warn = await lineWhere(servin.output, (l) => l.includes("http POST /v1/runtime/version 401"));
    expect(warn).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}http POST \/v1\/runtime\/version 401 transport=http method=POST path=\/v1\/runtime\/version rpc=version status=401 duration_ms=[\d.]+ peer=127\.0\.0\.1:\d+$/,
    );
    // A mutation at info (the default level); reads stay at debug and are not written.
    await lineWhere(servin.output, (l) => / INFO {2}http POST \/v1\/runtime\/sandbox\/stop 200 /.test(l));
    expect((await fetch(`${servin.url}/health`)).status).toBe(200);
    expect(await servin.stop()).toBe(0);
    const text = servin.output();
    expect(text).not.toContain("/health");
    expect(text).not.toContain("\u001b");
    expect(text).not.toMatch(/[✔ℹ⚠✖⚙]/u);
    for (const line of text.split("\n").filter((l) => l !== ""))
      expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) /);
  }, 60_000);

  it("takes SERVIN_LOG_LEVEL, and refuses a level it does not know, naming it", async () => {
    assertBuilt();
    const dir = await mkdtemp(join(tmpdir(), "servin-logs-level-"));
    await writeFile(join(dir, "none.toml"), "");
    const port = await closedPort();
    const child = spawn(
      process.execPath,
      [
        BINARY,
        ...criStartArgs(dir, port, join(dir, "none.toml")),
        "--backend",
        "memory",
        "--image-backend",
        "memory",
      ],
      { env: { ...process.env, SERVIN_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const output = collectOutput(child);
    running.push({ stop: () => stopChild(child, "SIGTERM"), dir });
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    expect(up).toBe(true);
    await fetch(`http://127.0.0.1:${port}/v1/runtime/sandbox/stop`, {
      method: "POST",
      body: '{"pod_sandbox_id":"nosuch"}',
    });
    expect(await stopChild(child, "SIGTERM")).toBe(0);
    // warn and above only: not even the "listening" line, nor the info-level access line.
    expect(output()).toBe("");

    const bad = await runCli(["cri", "start", "--log-level", "loud", "--backend", "memory"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr + bad.stdout).toContain(
      '--log-level: expected one of debug, info, warn, error, got "loud"',
    );
    const badEnv = await runCli(["cri", "start", "--backend", "memory"], { SERVIN_LOG_FORMAT: "xml" });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr + badEnv.stdout).toContain(
      'SERVIN_LOG_FORMAT: expected one of text, json, got "xml"',
    );
  }, 60_000);
});
