/**
 * `servin run`, `servin exec` and `servin logs` end to end: the built binary against `servin cri start`
 * with the oci backend (conmon + runc) and disk images from a local registry mirroring docker.io.
 * run: -d prints the ID and the container runs with env, env-file, volume, label, workdir, user and
 * limits; attached runs end with the container's exit code; --rm; a failed run leaves no pod; a taken
 * --name is refused. exec: the command's exit code, 127/126 for runc's failures. logs: --tail,
 * --since, --timestamps, -f ending after the exit, -f across a ReopenContainerLog, `| head -1` clean.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rename, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  BINARY,
  type RunningServin,
  removeDir,
  runCli,
  startServin,
} from "../../../apps/servin/test/_binary.js";
import { haveRealParts, startMirrorRegistry } from "../../../apps/servin/test/_real-parts.js";
import { PLUGIN_DIR, realPartsMissing, testNetUp } from "../../cni/test/fixtures/bridge-net.js";

const real = haveRealParts();
if (process.env.SERVIN_REQUIRE_REAL === "1" && !real)
  throw new Error("SERVIN_REQUIRE_REAL=1 but this is not root with runc, conmon and the registry tools");

const IMAGE = "busybox:latest";
let registry: Awaited<ReturnType<typeof startMirrorRegistry>>["registry"];
let servin: RunningServin;
let dir: string;
let port: string[];

async function post<T = Record<string, unknown>>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${servin.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const status = (id: string) =>
  post<{ status: { state: string; labels?: Record<string, string>; log_path: string; exit_code?: number } }>(
    "/v1/runtime/container/status",
    { container_id: id },
  ).then((r) => r.status);

const podNames = async () =>
  (await post<{ items?: Array<{ metadata: { name: string } }> }>("/v1/runtime/sandbox/list", {})).items?.map(
    (p) => p.metadata.name,
  ) ?? [];

/** `servin run -d … IMAGE CMD…`: the container's ID. */
async function detached(flags: string[], cmd: string[]): Promise<string> {
  const r = await runCli(["run", ...port, "-d", ...flags, IMAGE, ...cmd]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^[0-9a-f]{64}\n$/);
  return r.stdout.trim();
}

async function untilExited(id: string): Promise<void> {
  while ((await status(id)).state !== "CONTAINER_EXITED") await new Promise((r) => setTimeout(r, 100));
}

describe.skipIf(!real)("servin run / exec / logs on the oci backend", () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-run-e2e-"));
    const mirror = await startMirrorRegistry(dir, { image: "base", repo: "library/busybox:latest" });
    registry = mirror.registry;
    // No CNI network: each pod gets its own network namespace with loopback only.
    servin = await startServin(
      ["--backend", "oci", "--image-backend", "disk", "--cni-conf-dir", join(dir, "no-cni")],
      { dir, config: mirror.config },
    );
    port = ["--port", String(servin.port)];
  }, 180_000);

  afterAll(async () => {
    if (servin) {
      const pods = await post<{ items?: Array<{ id: string }> }>("/v1/runtime/sandbox/list", {});
      for (const pod of pods.items ?? [])
        await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: pod.id });
      expect(await servin.stop("SIGTERM")).toBe(0);
    }
    await registry?.stop();
    if (dir) await removeDir(dir);
  }, 120_000);

  it("run -d: prints the ID; env, env-file, volume, label, workdir, user and limits reach the container", async () => {
    await writeFile(join(dir, "shared.txt"), "from the host\n");
    await writeFile(join(dir, "env.list"), "# a comment\nFROM_FILE=file value\n\nBOTH=file\n");
    const id = await detached(
      [
        "--name",
        "web",
        "-e",
        "FOO=bar baz",
        "--env",
        "BOTH=flag",
        "--env-file",
        join(dir, "env.list"),
        "-v",
        `${dir}:/mnt/host:ro`,
        "--label",
        "app=web",
        "-w",
        "/mnt/host",
        "-u",
        "0:0",
        "--memory",
        "64m",
        "--cpus",
        "0.5",
      ],
      // flags after the image are the command's: `-c` is sh's
      [
        "sh",
        "-c",
        'echo "$FOO|$FROM_FILE|$BOTH"; pwd; id -u; cat shared.txt; touch x || echo read-only; sleep 3600',
      ],
    );
    const s = await status(id);
    expect(s.state).toBe("CONTAINER_RUNNING");
    expect(s.labels).toMatchObject({ app: "web" });
    // logs exist without any flag: under servin's own pod log directory
    expect(s.log_path).toContain(join(dir, "data", "pod-logs"));
    let out = "";
    while (!out.includes("read-only")) out = (await runCli(["logs", ...port, id])).stdout;
    expect(out).toBe("bar baz|file value|flag\n/mnt/host\n0\nfrom the host\nread-only\n");
    const limits = await runCli([
      "exec",
      ...port,
      id,
      "sh",
      "-c",
      "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
    ]);
    expect(limits.stdout.split("\n")[0]).toBe(String(64 * 1024 * 1024));
    expect(limits.stdout.split("\n")[1]).toMatch(/^50000( 100000)?$/);
  }, 120_000);

  it("a --name already used by a pod is refused (125), naming it; one pod keeps the name", async () => {
    const r = await runCli(["run", ...port, "-d", "--name", "web", IMAGE, "sleep", "10"]);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('the name "web" is already in use by pod');
    expect((await podNames()).filter((n) => n === "web")).toHaveLength(1);
  }, 60_000);

  it("attached run: streams stdout and stderr and exits with the container's code; --rm removes its pod", async () => {
    const r = await runCli([
      "run",
      ...port,
      "--rm",
      "--name",
      "attached",
      IMAGE,
      "sh",
      "-c",
      "echo out; echo err >&2; exit 3",
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toContain("err\n");
    expect(await podNames()).not.toContain("attached");
    // its logs lived under servin's own pod-log root: they went with the pod
    const logDirs = await readdir(join(dir, "data", "pod-logs"));
    expect(logDirs.filter((d) => d.includes("_attached_"))).toEqual([]);
    expect(logDirs.some((d) => d.includes("_web_"))).toBe(true);
  }, 60_000);

  it("Ctrl-C in an attached run stops the container; the run exits with its code and --rm removes the pod", async () => {
    const child = spawn(
      process.execPath,
      [BINARY, "run", ...port, "--rm", "--name", "interrupted", IMAGE, "sh", "-c", "echo up; exec sleep 300"],
      { env: { ...process.env, NO_COLOR: "1" } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const closed = new Promise<number | null>((done) => child.on("close", done));
    await vi.waitFor(() => expect(stdout).toContain("up\n"), { timeout: 30_000, interval: 100 });
    child.kill("SIGINT");
    const code = await closed;
    // sleep ends on the stop signal (SIGTERM): 128 + 15, as docker reports it
    expect(code, stderr).toBe(143);
    expect(stderr).toContain("SIGINT: stopping container");
    expect(await podNames()).not.toContain("interrupted");
  }, 60_000);

  it("a failed run leaves no pod: missing command 127, not executable 126, missing image 125", async () => {
    const missing = await runCli(["run", ...port, "--name", "bad", IMAGE, "nope"]);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toContain('exec: "nope": executable file not found in $PATH');
    expect(missing.stderr).not.toContain("level=error");
    const notExecutable = await runCli(["run", ...port, "--name", "bad2", IMAGE, "/etc/passwd"]);
    expect(notExecutable.code).toBe(126);
    expect(notExecutable.stderr).toContain("permission denied");
    const noImage = await runCli(["run", ...port, "--name", "bad3", "nosuch/image:1"]);
    expect(noImage.code).toBe(125);
    expect(noImage.stderr).toContain("not found");
    const names = await podNames();
    for (const name of ["bad", "bad2", "bad3"]) expect(names).not.toContain(name);
    // bad flags fail before servin is asked for anything
    const badFlag = await runCli(["run", ...port, "-p", "http", IMAGE]);
    expect(badFlag.code).toBe(125);
    expect(badFlag.stderr).toContain(
      '--publish: expected [IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL], got "http"',
    );
  }, 60_000);

  it("exec ID CMD ARGS…: flags after the ID are the command's; its exit code; 127 and 126 as docker", async () => {
    const id = await detached(["--name", "execs"], ["sleep", "3600"]);
    const ls = await runCli(["exec", ...port, id.slice(0, 12), "ls", "-la", "/etc/motd"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^-rw.* \/etc\/motd\n$/);
    expect((await runCli(["exec", ...port, id, "sh", "-c", "exit 5"])).code).toBe(5);
    // no --port: SERVIN_URL says where servin is
    expect((await runCli(["exec", id, "true"], { SERVIN_URL: servin.url })).code).toBe(0);
    // `-h` and `--help` after the ID are the command's too, not a request for servin's help
    const help = await runCli(["exec", ...port, id, "sh", "-c", 'echo "$1 $2"', "sh", "-h", "--help"]);
    expect(help).toMatchObject({ code: 0, stdout: "-h --help\n" });
    for (const timeout of [[], ["--timeout", "10"]]) {
      // streaming exec, then ExecSync (a timeout): the same answer
      const missing = await runCli(["exec", ...port, ...timeout, id, "nope"]);
      expect(missing.code, missing.stderr).toBe(127);
      expect(missing.stderr).toContain('exec: "nope": executable file not found in $PATH');
      expect(missing.stderr).not.toContain("level=error");
      const denied = await runCli(["exec", ...port, ...timeout, id, "/etc/passwd"]);
      expect(denied.code, denied.stderr).toBe(126);
      expect(denied.stderr).toContain("permission denied");
    }
  }, 60_000);

  it("logs --tail, --timestamps and --since (an RFC 3339 time from --timestamps)", async () => {
    const id = await detached(["--name", "lines"], ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done"]);
    await untilExited(id);
    expect((await runCli(["logs", ...port, id])).stdout).toBe("line1\nline2\nline3\nline4\nline5\n");
    expect((await runCli(["logs", ...port, "--tail", "2", id])).stdout).toBe("line4\nline5\n");
    const stamped = (await runCli(["logs", ...port, "--timestamps", id])).stdout.trim().split("\n");
    expect(stamped).toHaveLength(5);
    for (const [i, line] of stamped.entries())
      expect(line).toMatch(
        new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d+(Z|[+-]\\d\\d:\\d\\d) line${i + 1}$`),
      );
    const since = stamped[4]!.split(" ")[0]!;
    const after = (await runCli(["logs", ...port, "--since", since, id])).stdout;
    expect(after.endsWith("line5\n")).toBe(true);
    expect((await runCli(["logs", ...port, "--since", "1h", id])).stdout).toBe(
      "line1\nline2\nline3\nline4\nline5\n",
    );
    const bad = await runCli(["logs", ...port, "--since", "yesterday", id]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'since: expected a duration (10s, 5m, 2h) or an RFC 3339 time, got "yesterday"',
    );
    const gone = await runCli(["logs", ...port, "0000000000ff"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("0000000000ff");
  }, 60_000);

  it("logs -f ends once the container has exited, with every line printed", async () => {
    const id = await detached(["--name", "follow"], ["sh", "-c", "echo a; sleep 1; echo b"]);
    const r = await runCli(["logs", ...port, "-f", id]);
    expect(r).toMatchObject({ code: 0, stdout: "a\nb\n" });
    expect((await status(id)).state).toBe("CONTAINER_EXITED");
  }, 60_000);

  it("logs -f follows the new file after a rotation and ReopenContainerLog", async () => {
    const id = await detached(
      ["--name", "rotate", "-u", "0"],
      ["sh", "-c", "echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second"],
    );
    const child = spawn(process.execPath, [BINARY, "logs", ...port, "-f", id], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const closed = new Promise<number | null>((done) => child.on("close", done));
    while (!stdout.includes("first\n")) await new Promise((r) => setTimeout(r, 50));
    // kubelet's rotation: rename the file, then ask the runtime to reopen it
    const { log_path: logPath } = await status(id);
    await rename(logPath, `${logPath}.1`);
    await post("/v1/runtime/container/reopen-log", { container_id: id });
    await runCli(["exec", ...port, id, "touch", "/tmp/go"]);
    expect(await closed).toBe(0);
    expect(stdout).toBe("first\nsecond\n");
  }, 60_000);

  it("logs | head -1: exits 0 with no EPIPE trace", async () => {
    const id = await detached(["--name", "many"], ["sh", "-c", "seq 1 50000"]);
    await untilExited(id);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(
        "bash",
        [
          "-o",
          "pipefail",
          "-c",
          `"${process.execPath}" "${BINARY}" logs --port ${servin.port} ${id} | head -1`,
        ],
        { env: { ...process.env, NO_COLOR: "1" } },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => done({ code, stdout, stderr }));
    });
    expect(r).toEqual({ code: 0, stdout: "1\n", stderr: "" });
  }, 60_000);
});

/** The first bytes a TCP server at `port` on 127.0.0.1 sends, or "" when nothing answers there. */
function tcpRead(port: number): Promise<string> {
  return new Promise((done) => {
    let data = "";
    const socket = connect(port, "127.0.0.1");
    socket.on("data", (d) => (data += d));
    socket.on("error", () => done(""));
    socket.on("close", () => done(data));
  });
}

const cniMissing = realPartsMissing();
describe.skipIf(!real || cniMissing !== undefined)(
  "servin run -p through CNI's portmap (fenced bridge)",
  () => {
    let net: Awaited<ReturnType<typeof testNetUp>>;
    let netDir: string;
    let netServin: RunningServin;
    let netRegistry: Awaited<ReturnType<typeof startMirrorRegistry>>["registry"];

    beforeAll(async () => {
      netDir = await mkdtemp(join(tmpdir(), "servin-run-net-"));
      net = await testNetUp({ bridge: "svnrun0", subnet: "10.99.21.0/24" });
      await net.writeConf("10-svnrun.conflist", net.conflist());
      const mirror = await startMirrorRegistry(netDir, { image: "base", repo: "library/busybox:latest" });
      netRegistry = mirror.registry;
      netServin = await startServin(
        [
          "--backend",
          "oci",
          "--image-backend",
          "disk",
          "--cni-conf-dir",
          net.confDir,
          "--cni-bin-dir",
          PLUGIN_DIR,
        ],
        { dir: netDir, config: mirror.config },
      );
    }, 180_000);

    afterAll(async () => {
      if (netServin) {
        const res = await fetch(`${netServin.url}/v1/runtime/sandbox/list`, { method: "POST", body: "{}" });
        for (const pod of ((await res.json()) as { items?: Array<{ id: string }> }).items ?? [])
          await fetch(`${netServin.url}/v1/runtime/sandbox/remove`, {
            method: "POST",
            body: JSON.stringify({ pod_sandbox_id: pod.id }),
          });
        await netServin.stop("SIGTERM");
      }
      await netRegistry?.stop();
      await net?.down();
      if (netDir) await removeDir(netDir);
    }, 120_000);

    it("-p 127.0.0.1:HOST:CONTAINER reaches the container's port from the host", async () => {
      const { createServer } = await import("node:net");
      const hostPort = await new Promise<number>((done) => {
        const server = createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as { port: number };
          server.close(() => done(port));
        });
      });
      const r = await runCli([
        "run",
        "--port",
        String(netServin.port),
        "-d",
        "--name",
        "published",
        "-p",
        `127.0.0.1:${hostPort}:8080/tcp`,
        IMAGE,
        "nc",
        "-ll",
        "-p",
        "8080",
        "-e",
        "echo",
        "hello from run",
      ]);
      expect(r.code, r.stderr).toBe(0);
      let answer = "";
      for (let i = 0; i < 100 && answer === ""; i++) {
        answer = await tcpRead(hostPort);
        if (answer === "") await new Promise((done) => setTimeout(done, 100));
      }
      expect(answer).toBe("hello from run\n");
    }, 60_000);
  },
);
