/** Starts the built servin binary as a child process on free ports, for end-to-end tests. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

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

/** Starts `servin cri start` with a fresh root and state dir; resolves once it prints where it listens. */
export async function startServin(
  extra: string[] = [],
  opts: { dir?: string; config?: string } = {},
): Promise<RunningServin> {
  assertBuilt();
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "servin-e2e-")));
  const socket = join(dir, "run", "servin.sock");
  const args = [
    BINARY,
    "cri",
    "start",
    "--port",
    "0",
    "--root",
    join(dir, "data"),
    "--state-dir",
    join(dir, "run"),
    "--grpc-socket",
    socket,
    "--config",
    opts.config ?? join(dir, "none.toml"),
    ...extra,
  ];
  // An explicit --config that does not exist is an error; give it an empty file.
  const { writeFile } = await import("node:fs/promises");
  await writeFile(join(dir, "none.toml"), "");
  const child = spawn(process.execPath, args, {
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`servin did not start within 60s:\n${out}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`servin exited with ${code} before listening:\n${out}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    dir,
    socket,
    child,
    output: () => out,
    stop: (signal = "SIGTERM") =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done(child.exitCode);
        child.once("exit", (code) => done(code));
        child.kill(signal);
      }),
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
