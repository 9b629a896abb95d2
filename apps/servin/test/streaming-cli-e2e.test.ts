/**
 * The CLI's streaming commands end to end on real parts: the built `servin` binary against
 * `servin cri start` with the oci backend (runc + conmon): `exec -i` with piped stdin, `exec -it` in a
 * terminal made by `script`, exit codes passed through (3 -> 3, a missing binary -> 127), `attach`, and
 * `port-forward` to an nc listener in the pod's network namespace.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestRegistry } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BINARY, type RunningServin, removeDir, runCli, startServin } from "./_binary.js";
import { haveRealParts, startMirrorRegistry } from "./_real-parts.js";

const execFileP = promisify(execFile);
const real = haveRealParts(["/usr/bin/script"]);
if (process.env.SERVIN_REQUIRE_REAL === "1" && !real)
  throw new Error(
    "SERVIN_REQUIRE_REAL=1 but this is not root with runc, conmon, script and the registry tools",
  );

let registry: TestRegistry;
let servin: RunningServin;
let dir: string;
let port: string[];

/** `servin ARGS…` with `input` piped to its stdin. */
function runWithInput(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BINARY, ...args], { env: { ...process.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.stdin.end(input);
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

async function post(path: string, body: unknown): Promise<Record<string, string>> {
  const res = await fetch(`${servin.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, string>;
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** `servin run alpine -- CMD…`: a pod and its running container. */
async function run(name: string, cmd: string[]): Promise<{ pod: string; container: string }> {
  // servin's flags before the image: the words after it are the command's (as docker's)
  const r = await runCli(["run", ...port, "-d", "--name", name, "alpine:latest", ...cmd]);
  expect(r.code, r.stderr).toBe(0);
  const container = r.stdout.trim();
  const listed = (await post("/v1/runtime/container/list", { filter: { id: container } })) as unknown as {
    containers: Array<{ pod_sandbox_id: string }>;
  };
  return { pod: listed.containers[0]!.pod_sandbox_id, container };
}

describe.skipIf(!real)("servin exec / attach / port-forward on the oci backend", () => {
  let sleeper: { pod: string; container: string };
  const pods: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-streaming-e2e-"));
    const mirror = await startMirrorRegistry(dir);
    registry = mirror.registry;
    const { config } = mirror;
    servin = await startServin(["--backend", "oci", "--image-backend", "disk"], { dir, config });
    port = ["--port", String(servin.port)];
    sleeper = await run("sleeper", ["sleep", "3600"]);
    pods.push(sleeper.pod);
  }, 180_000);

  afterAll(async () => {
    for (const pod of pods) await runCli(["rmp", pod, ...port]);
    if (servin) expect(await servin.stop("SIGTERM")).toBe(0);
    await registry?.stop();
    if (dir) await removeDir(dir);
  }, 120_000);

  it("exec -i: piped stdin reaches cat and its end ends cat", async () => {
    const r = await runWithInput(
      ["exec", "-i", ...port, sleeper.container.slice(0, 12), "--", "cat"],
      "one\ntwo\n",
    );
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: "one\ntwo\n" });
  }, 60_000);

  it("exec passes the exit code through (3 -> 3), stderr apart; a missing binary exits 127", async () => {
    const r = await runCli([
      "exec",
      ...port,
      sleeper.container,
      "--",
      "sh",
      "-c",
      "echo out; echo err >&2; exit 3",
    ]);
    expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n" });
    const missing = await runCli(["exec", ...port, sleeper.container, "--", "/no/such/binary"]);
    expect(missing.code, missing.stderr).toBe(127);
  }, 60_000);

  it("exec -it under script: a terminal of the caller's size in the container, its exit code", async () => {
    const cli = [
      process.execPath,
      BINARY,
      "exec",
      "-it",
      ...port,
      sleeper.container,
      "--",
      "sh",
      "-c",
      "stty size; test -t 0 && echo is-a-tty; exit 4",
    ];
    const quoted = cli.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
    const child = spawn("script", ["-qec", `stty cols 101 rows 33; ${quoted}`, "/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((done) => child.on("close", done));
    child.stdin!.end();
    expect(output).toContain("33 101");
    expect(output).toContain("is-a-tty");
    expect(code, output).toBe(4);
  }, 60_000);

  it("attach: the container's output, and piped stdin when it was created with stdin", async () => {
    const { container_id: id } = await post("/v1/runtime/container/create", {
      pod_sandbox_id: sleeper.pod,
      config: {
        metadata: { name: "reader" },
        image: { image: "alpine:latest" },
        command: ["sh", "-c", 'while read l; do echo "got $l"; [ "$l" = stop ] && exit 0; done'],
        stdin: true,
      },
      sandbox_config: { metadata: { name: "sleeper", namespace: "default" } },
    });
    await post("/v1/runtime/container/start", { container_id: id });
    const r = await runWithInput(["attach", id!, ...port], "one\nstop\n");
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: "got one\ngot stop\n" });
  }, 60_000);

  it("port-forward: a local port reaches nc in the pod's network namespace, one WebSocket per connection", async () => {
    const listener = await run("listener", ["nc", "-ll", "-p", "8080", "-e", "cat"]);
    pods.push(listener.pod);
    const child: ChildProcess = spawn(
      process.execPath,
      [BINARY, "port-forward", listener.pod, ":8080", ...port],
      {
        env: { ...process.env, NO_COLOR: "1" },
      },
    );
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    try {
      while (!/127\.0\.0\.1:\d+ -> 8080/.test(out)) {
        if (child.exitCode !== null) throw new Error(out);
        await new Promise((r) => setTimeout(r, 50));
      }
      const local = Number(/127\.0\.0\.1:(\d+) -> 8080/.exec(out)![1]);
      const roundTrip = (text: string) =>
        new Promise<string>((done) => {
          const socket = connect({ host: "127.0.0.1", port: local }, () => socket.write(text));
          let got = "";
          socket.on("data", (d) => {
            got += d;
            if (got === text) socket.destroy();
          });
          socket.on("error", () => {});
          socket.once("close", () => done(got));
        });
      // nc may not listen yet: a connection it refuses comes back empty
      let first = "";
      for (let i = 0; i < 100 && first === ""; i++) first = await roundTrip("ready\n");
      expect(first).toBe("ready\n");
      const answers = await Promise.all(["a\n", "b\n", "c\n"].map(roundTrip));
      expect(answers).toEqual(["a\n", "b\n", "c\n"]);
    } finally {
      child.kill("SIGINT");
      const code = await new Promise((done) =>
        child.exitCode !== null ? done(child.exitCode) : child.once("close", done),
      );
      expect(code, out).toBe(0);
    }
  }, 120_000);

  it("leaves no CLI process of these tests behind", async () => {
    const { stdout } = await execFileP("ps", ["-eo", "args"]);
    const ours = stdout
      .split("\n")
      .filter((l) => l.includes(BINARY) && l.includes(`--port ${servin.port}`) && !l.includes(" cri start"));
    expect(ours).toEqual([]);
  });
});
