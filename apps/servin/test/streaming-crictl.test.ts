/**
 * Exec, Attach and PortForward end to end: the real servin (oci backend, conmon + runc, disk images from
 * a local registry) driven by the conformance kit's unmodified crictl 1.26.1 (client-go over SPDY):
 * `exec -i` with piped stdin, `exec -it` under `script`, `attach`, `port-forward`; then no helper left.
 */
import { execFile, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestRegistry } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServin, removeDir, startServin } from "./_binary.js";
import { haveRealParts, startMirrorRegistry } from "./_real-parts.js";

// The conformance kit's unmodified crictl 1.26.1, beside the repository (as CI lays it out).
const CRICTL =
  process.env.SERVIN_CRICTL ??
  fileURLToPath(new URL("../../../../shared/conformance/bin/crictl", import.meta.url));
const requireReal = process.env.SERVIN_REQUIRE_REAL === "1";
const real = haveRealParts(["/usr/bin/script", CRICTL]);
if (!real && !requireReal)
  console.warn(`skipping crictl streaming tests: need root, runc, conmon, catatonit, script and ${CRICTL}`);

let registry: TestRegistry;
let servin: RunningServin;
let dir: string;

function crictl(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      CRICTL,
      ["-r", `unix://${servin.socket}`, "-i", `unix://${servin.socket}`, "-t", "30s", ...args],
      { timeout: 60_000, maxBuffer: 16 << 20 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? "");
  });
}

async function ok(args: string[]): Promise<string> {
  const r = await crictl(args);
  if (r.code !== 0) throw new Error(`crictl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Processes whose parent is servin: the per-session helpers (python3, nsenter + nc, runc exec). */
function servinChildren(): string[] {
  const out: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === servin.child.pid && state !== "Z")
        out.push(readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" "));
    } catch {}
  }
  return out;
}

describe.skipIf(!real && !requireReal)("crictl exec, attach, port-forward against servin (oci)", () => {
  let pod: string;
  let sleeper: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-streaming-"));
    const mirror = await startMirrorRegistry(dir, { image: "base", repo: "library/busybox:latest" });
    registry = mirror.registry;
    const { config } = mirror;
    // No CNI network here: the pod gets its own network namespace with loopback (port-forward reaches it).
    servin = await startServin(
      ["--backend", "oci", "--image-backend", "disk", "--cni-conf-dir", join(dir, "no-cni")],
      { dir, config },
    );
    await ok(["pull", "busybox:latest"]);
    await writeFile(
      join(dir, "pod.json"),
      JSON.stringify({
        metadata: { name: "streaming", namespace: "default", uid: "streaming-uid" },
        log_directory: join(dir, "logs"),
      }),
    );
    const ctr = (name: string, command: string[], extra: object = {}) =>
      writeFile(
        join(dir, `${name}.json`),
        JSON.stringify({
          metadata: { name },
          image: { image: "busybox:latest" },
          command,
          log_path: `${name}.log`,
          ...extra,
        }),
      );
    await ctr("sleeper", ["sleep", "3600"]);
    await ctr("ticker", ["sh", "-c", "while sleep 0.05; do echo tick; done"]);
    await ctr("echo", ["nc", "-ll", "-p", "8080", "-e", "cat"]);
    pod = await ok(["runp", join(dir, "pod.json")]);
    const run = async (name: string) => {
      const id = await ok(["create", pod, join(dir, `${name}.json`), join(dir, "pod.json")]);
      await ok(["start", id]);
      return id;
    };
    sleeper = await run("sleeper");
    await run("ticker");
    await run("echo");
  }, 180_000);

  afterAll(async () => {
    if (servin && pod) {
      await crictl(["stopp", pod]);
      await crictl(["rmp", pod]);
    }
    if (servin) expect(await servin.stop("SIGTERM")).toBe(0);
    await registry?.stop();
    if (dir) await removeDir(dir);
  }, 60_000);

  it("exec: stdout and stderr apart, the exit code reported", async () => {
    const r = await crictl(["exec", sleeper, "sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r.stdout).toBe("out\n");
    expect(r.stderr).toContain("err\n");
    expect(r.stderr).toContain("command terminated with exit code 3");
    expect(r.code).toBe(1);
  });

  it("exec -i: piped stdin reaches cat in the container and its end ends it", async () => {
    const big = "0123456789".repeat(50_000);
    const r = await crictl(["exec", "-i", sleeper, "cat"], `hello\n${big}`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`hello\n${big}`);
    expect(r.code).toBe(0);
  });

  it("exec -it under a real terminal (script): the container's tty, sized as crictl's terminal", async () => {
    const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
      const child = spawn(
        "script",
        [
          "-qfec",
          `stty cols 91 rows 33; ${CRICTL} -r unix://${servin.socket} exec -it ${sleeper} sh -c 'stty size; tty >/dev/null && echo tty-ok'`,
          "/dev/null",
        ],
        { stdio: ["pipe", "pipe", "pipe"] },
      );
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.once("close", (code) => resolve({ code: code ?? -1, stdout }));
    });
    expect(r.stdout).toContain("33 91");
    expect(r.stdout).toContain("tty-ok");
    expect(r.code).toBe(0);
  });

  it("attach: the running container's output (its CRI log untouched)", async () => {
    const ticker = await ok(["ps", "-q", "--name", "ticker"]);
    const child = spawn(CRICTL, ["-r", `unix://${servin.socket}`, "attach", ticker], {
      stdio: ["ignore", "pipe", "pipe"],
    });
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
    expect(text).toContain("tick\ntick\n");
    expect(readFileSync(join(dir, "logs", "ticker.log"), "utf8")).toMatch(/ stdout F tick\n/);
  });

  it("port-forward: several connections through crictl's listener into the pod's network namespace", async () => {
    const local = 20000 + (process.pid % 20000);
    const child = spawn(CRICTL, ["-r", `unix://${servin.socket}`, "port-forward", pod, `${local}:8080`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    const echo = (payload: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: local });
        let text = "";
        socket.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (text.length >= payload.length) socket.end();
        });
        socket.once("error", reject);
        socket.once("close", () => resolve(text));
        socket.write(payload);
      });
    try {
      for (let i = 0; i < 100 && !log.includes("Forwarding from"); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(log).toContain("Forwarding from");
      const replies = await Promise.all([1, 2, 3, 4].map((i) => echo(String(i).repeat(100_000))));
      expect(replies).toEqual([1, 2, 3, 4].map((i) => String(i).repeat(100_000)));
    } finally {
      child.kill();
    }
  });

  it("leaves no helper process (python3, nsenter, nc, runc exec) once the sessions ended", async () => {
    let left = servinChildren();
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = servinChildren();
    }
    expect(left).toEqual([]);
  });
});
