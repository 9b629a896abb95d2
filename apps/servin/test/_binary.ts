/** Starts the built servin binary as a child process on free ports, for end-to-end tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type CriClient, createCriClient } from "@servin/cri-http";

export const BINARY = resolve(import.meta.dirname, "../dist/servin.js");

export interface RunningServin {
  url: string;
  port: number;
  dir: string;
  socket: string;
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function assertBuilt(): void {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`pnpm build\` first (pnpm test does)`);
}

/** Runs `servin ARGS…` to completion and returns its exit code and output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  return new Promise((done) => {
    const child = spawn(process.execPath, [BINARY, ...args], {
      env: { ...process.env, ...env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/**
 * `cri start` on `port` (0: any) with everything under `dir`: data in `dir`/data, state and the gRPC
 * socket in `dir`/run, the config file `config`.
 */
export function criStartArgs(dir: string, port: number, config: string): string[] {
  return [
    "cri",
    "start",
    "--port",
    String(port),
    "--root",
    join(dir, "data"),
    "--state-dir",
    join(dir, "run"),
    "--grpc-socket",
    join(dir, "run", "servin.sock"),
    "--config",
    config,
  ];
}

/** Starts `servin cri start` with a fresh root and state dir; resolves once it prints where it listens. */
export async function startServin(
  extra: string[] = [],
  opts: { dir?: string; config?: string } = {},
): Promise<RunningServin> {
  assertBuilt();
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "servin-e2e-")));
  const socket = join(dir, "run", "servin.sock");
  const args = [BINARY, ...criStartArgs(dir, 0, opts.config ?? join(dir, "none.toml")), ...extra];
  // An explicit --config that does not exist is an error; give it an empty file.
  const { writeFile } = await import("node:fs/promises");
  await writeFile(join(dir, "none.toml"), "");
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = collectOutput(child);
  const url = await untilListening(child, output);
  return {
    url,
    port: Number(new URL(url).port),
    dir,
    socket,
    child,
    output,
    stop: (signal = "SIGTERM") => stopChild(child, signal),
  };
}

/** Gathers a child's stdout and stderr into one text, kept to its first `limit` characters (or so). */
export function collectOutput(child: ChildProcess, limit = Number.POSITIVE_INFINITY): () => string {
  let out = "";
  const add = (d: Buffer) => {
    if (out.length < limit) out += d;
  };
  child.stdout!.on("data", add);
  child.stderr!.on("data", add);
  return () => out;
}

/** Resolves with the URL once servin's `output()` says where it listens; rejects if it exits first or takes over 60 s. */
export function untilListening(child: ChildProcess, output: () => string): Promise<string> {
  return new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`servin did not start within 60s:\n${output()}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(output());
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`servin exited with ${code} before listening:\n${output()}`));
    });
  });
}

/** Sends `signal` unless the child has already ended; resolves with its exit code (null after a signal). */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  return new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
    child.once("exit", (code) => done(code));
    child.kill(signal);
  });
}

/** A servin started with spawnServinOn: not waited for, so a test can time its way back up. */
export interface SpawnedServin {
  child: ChildProcess;
  /** performance.now() at the spawn. */
  spawnedAt: number;
  output(): string;
  cri: CriClient;
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * Spawns the built `servin cri start` with the oci backend on a fixed `port` and under `dir` (data in
 * `dir`/data, state in `dir`/run), so that restarts find the same state at the same address; does not wait.
 */
export function spawnServinOn(opts: {
  port: number;
  dir: string;
  config: string;
  imageBackend: "memory" | "disk";
}): SpawnedServin {
  assertBuilt();
  const child = spawn(
    process.execPath,
    [
      BINARY,
      ...criStartArgs(opts.dir, opts.port, opts.config),
      "--backend",
      "oci",
      "--image-backend",
      opts.imageBackend,
    ],
    { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const spawnedAt = performance.now();
  return {
    child,
    spawnedAt,
    output: collectOutput(child),
    cri: createCriClient({ baseUrl: `http://127.0.0.1:${opts.port}` }),
    stop: (signal) => stopChild(child, signal),
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
