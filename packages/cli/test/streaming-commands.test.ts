/**
 * `servin exec [-i] [-t]`, `servin attach` and `servin port-forward` run as a real child process
 * against a real streaming server (WebSocket v5 / channel-framed port-forward), through the HTTP stub
 * in _streaming-stub.ts: piped stdin and its end, a terminal (node-pty) with resize on SIGWINCH,
 * exit codes passed through, and strict flags.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as pty from "node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EchoServer, startEchoServer } from "../../streaming/test/echo-server.js";
import { type StreamingStub, startStreamingStub } from "./_streaming-stub.js";

const MAIN = pathToFileURL(join(resolve(import.meta.dirname, "../src"), "main.ts")).href;
const nodeArgs = (args: string[]) => [
  "--conditions=source",
  "--import",
  "tsx",
  "--input-type=module",
  "-e",
  `const { runServin } = await import(${JSON.stringify(MAIN)}); await runServin(${JSON.stringify(args)});`,
];

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, nodeArgs(args), {
    env: { ...process.env, NO_COLOR: "1" },
    cwd: resolve(import.meta.dirname, ".."),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

async function servin(
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = start(args);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  if (stdin !== undefined) child.stdin!.end(stdin);
  const code = await new Promise<number | null>((done) => child.on("close", done));
  return { code, stdout, stderr };
}

let stub: StreamingStub;
let echo: EchoServer;
let port: string[];
beforeAll(async () => {
  stub = await startStreamingStub();
  echo = await startEchoServer();
  port = ["--port", stub.port];
});
afterAll(async () => {
  await stub?.close();
  await echo?.close();
});

describe("servin exec over the streaming protocol", () => {
  it("-i: piped stdin reaches the command and its end closes the command's stdin (cat ends)", async () => {
    const r = await servin(["exec", "-i", ...port, "c1", "--", "cat"], "one\ntwo\n");
    expect(r).toMatchObject({ code: 0, stdout: "one\ntwo\n" });
    expect(stub.calls.at(-1)).toBe("exec");
  });

  it("without -i: stdout and stderr apart, the exit code passed through (3 -> 3)", async () => {
    const r = await servin(["exec", ...port, "c1", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toBe("err\n");
  });

  it("a missing binary exits 127; servin's own failure (no server) exits 125", async () => {
    const missing = await servin(["exec", ...port, "c1", "--", "/no/such/binary"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain("/no/such/binary");
    // runc's own failure to start the process (exit 255 and its message on stderr) is not the command's code
    const runc = await servin([
      "exec",
      ...port,
      "c1",
      "--",
      "sh",
      "-c",
      "echo 'exec failed: unable to start container process: exec: \"x\": executable file not found in $PATH' >&2; exit 255",
    ]);
    expect(runc.code).toBe(127);
    const real255 = await servin(["exec", ...port, "c1", "--", "sh", "-c", "exit 255"]);
    expect(real255.code).toBe(255);
    const down = await servin(["exec", "--port", "1", "c1", "--", "true"]);
    expect(down.code).toBe(125);
    expect(down.stderr).toContain("cannot reach servin");
  });

  it("-t with a stdin that is not a terminal warns and runs without one", async () => {
    const r = await servin(
      ["exec", "-it", ...port, "c1", "--", "sh", "-c", "test -t 0 || echo no-tty; cat"],
      "x\n",
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("no-tty\nx\n");
    expect(r.stderr).toContain("unable to use a tty");
  });

  it("-it in a terminal: raw mode, the initial size, a resize on SIGWINCH, exit code, terminal restored", async () => {
    // sh runs servin, then shows its exit code and the terminal's modes once it has gone
    const script = '"$0" "$@"; echo "rc=$?"; stty -a';
    const remote =
      'stty size; read x; while [ "$(stty size)" = "30 100" ]; do sleep 0.05; done; stty size; echo "got $x"; exit 7';
    const term = pty.spawn(
      "sh",
      ["-c", script, process.execPath, ...nodeArgs(["exec", "-it", ...port, "c1", "--", "sh", "-c", remote])],
      {
        cols: 100,
        rows: 30,
        cwd: resolve(import.meta.dirname, ".."),
        env: { ...process.env, NO_COLOR: "1" } as Record<string, string>,
      },
    );
    let output = "";
    const seen = (text: string) =>
      new Promise<void>((done) => {
        const check = () => output.includes(text) && done();
        term.onData((d) => {
          output += d;
          check();
        });
        check();
      });
    const exited = new Promise<number>((done) => term.onExit(({ exitCode }) => done(exitCode)));
    await seen("30 100");
    term.resize(120, 40);
    // raw mode: the line is sent as typed, the remote terminal echoes it and takes \r as Enter
    term.write("hi\r");
    await seen("got hi");
    expect(await exited).toBe(0);
    expect(output).toContain("40 120");
    const after = output.slice(output.indexOf("rc="));
    expect(after).toMatch(/^rc=7\r?\n/);
    // raw mode was left: canonical input and echo are back
    expect(after).toMatch(/(^|\s)icanon(\s|;|$)/m);
    expect(after).toMatch(/(^|\s)echo(\s|;|$)/m);
  });
});

describe("servin exec falls back to ExecSync", () => {
  it("when the server answers Exec with Unimplemented (no -i/-t)", async () => {
    const old = await startStreamingStub({ execUnimplemented: true });
    try {
      const r = await servin(["exec", "--port", old.port, "c1", "--", "echo", "hi"]);
      expect(r).toMatchObject({ code: 0, stdout: "sync:echo hi\n" });
      expect(old.calls).toEqual(["exec", "execSync"]);
      const interactive = await servin(["exec", "-i", "--port", old.port, "c1", "--", "cat"], "");
      expect(interactive.code).toBe(125);
      expect(interactive.stderr).toContain("Exec is not implemented");
    } finally {
      await old.close();
    }
  });
});

describe("servin attach", () => {
  it("joins a running container's output and sends piped stdin; ends when the container does", async () => {
    const container = stub.runtime.startContainer("a1", [
      "sh",
      "-c",
      "while read l; do echo got $l; [ $l = stop ] && exit 0; done",
    ]);
    stub.containers.set("a1", { tty: false, stdin: true });
    const r = await servin(["attach", "a1", ...port], "one\nstop\n");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("got one\ngot stop\n");
    await new Promise((done) =>
      container.process.exitCode !== null ? done(null) : container.process.once("close", done),
    );
  });

  it("--no-stdin attaches output only", async () => {
    const container = stub.runtime.startContainer("a2", ["sh", "-c", "read l; echo never-read-$l"]);
    stub.containers.set("a2", { tty: false, stdin: true });
    const child = start(["attach", "--no-stdin", "a2", ...port]);
    let stdout = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stdin!.end("ignored\n");
    // the container gets its line from elsewhere: the attach did not send ours
    await new Promise((done) => setImmediate(done));
    await waitFor(() => stub.streaming.stats().activeSessions === 1);
    container.process.stdin!.end("direct\n");
    const code = await new Promise((done) => child.on("close", done));
    expect(code).toBe(0);
    expect(stdout).toBe("never-read-direct\n");
  });
});

describe("servin port-forward", () => {
  it("forwards each local connection over its own WebSocket until SIGINT", async () => {
    const child = start(["port-forward", "pod1", `:${echo.port}`, ...port]);
    let stdout = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stdout += d));
    await waitFor(() => /Forwarding from 127\.0\.0\.1:\d+ ->/.test(stdout));
    const local = Number(/127\.0\.0\.1:(\d+) ->/.exec(stdout)![1]);
    const [a, b] = await Promise.all([dial(local), dial(local)]);
    a.write("alpha");
    b.write("beta");
    await Promise.all([readUntil(a, "alpha"), readUntil(b, "beta")]);
    // the pod side closing ends the local connection
    const c = await dial(local);
    c.write("close\n");
    expect(await readToEnd(c)).toBe("bye\n");
    expect(stdout).toContain(`-> ${echo.port}`);
    expect(stub.calls.filter((r) => r === "portForward").length).toBe(3);
    a.destroy();
    b.destroy();
    child.kill("SIGINT");
    expect(await new Promise((done) => child.on("close", done))).toBe(0);
  });

  it("rejects a bad port mapping naming it", async () => {
    const r = await servin(["port-forward", "pod1", "80:70000", ...port]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`port mapping "80:70000": "70000" is not a port (1-65535)`);
  });
});

describe("strict flags", () => {
  it("an unknown long or short flag is an error naming it, before anything runs", async () => {
    const long = await servin(["exec", "--interactive-ish", ...port, "c1", "--", "true"]);
    // exec's own failures exit 125, as docker's
    expect(long.code).toBe(125);
    expect(long.stderr).toContain(`unknown flag "--interactive-ish"`);
    const short = await servin(["exec", "-ix", ...port, "c1", "--", "true"]);
    expect(short.stderr).toContain(`unknown flag "-x" in "-ix"`);
    const ps = await servin(["ps", "--al", ...port]);
    expect(ps.stderr).toContain(`unknown flag "--al"`);
    // after `--` everything is the command's
    const passed = await servin(["exec", ...port, "c1", "--", "sh", "-c", "echo $0", "--weird"]);
    expect(passed).toMatchObject({ code: 0, stdout: "--weird\n" });
    // and so is everything after the ID, without `--` (docker's and podman's reading)
    const bare = await servin(["exec", ...port, "c1", "sh", "-c", "echo $0 $1", "--port", "-x"]);
    expect(bare).toMatchObject({ code: 0, stdout: "--port -x\n" });
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((done) => setTimeout(done, 20));
}

function dial(localPort: number): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = connect({ host: "127.0.0.1", port: localPort }, () => done(socket));
    socket.once("error", fail);
  });
}

function readUntil(socket: Socket, text: string): Promise<string> {
  return new Promise((done) => {
    let got = "";
    socket.on("data", (d) => {
      got += d;
      if (got.includes(text)) done(got);
    });
  });
}

function readToEnd(socket: Socket): Promise<string> {
  return new Promise((done) => {
    let got = "";
    socket.on("data", (d) => (got += d));
    socket.once("end", () => done(got));
  });
}
