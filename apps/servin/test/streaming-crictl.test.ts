/**
 * Exec, Attach and PortForward end to end: the real servin (oci backend, conmon + runc, disk images from
 * a local registry) driven by the conformance kit's unmodified crictl 1.26.1 (client-go over SPDY):
 * `exec -i` with piped stdin, `exec -it` under `script`, `attach`, `port-forward`; then no helper left.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CRICTL,
  type CrictlResult,
  crictlAttachUntil,
  crictlInTerminal,
  crictlPortForward,
  roundTrip,
  runCrictl,
  type TestRegistry,
} from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServin, removeDir, startServin } from "./_binary.js";
import { haveRealParts, startMirrorRegistry } from "./_real-parts.js";

const requireReal = process.env.SERVIN_REQUIRE_REAL === "1";
const real = haveRealParts(["/usr/bin/script", CRICTL]);
if (!real && !requireReal)
  console.warn(`skipping crictl streaming tests: need root, runc, conmon, catatonit, script and ${CRICTL}`);

let registry: TestRegistry;
let servin: RunningServin;
let dir: string;

function crictl(args: string[], input?: string): Promise<CrictlResult> {
  const endpoint = `unix://${servin.socket}`;
  return runCrictl(["-r", endpoint, "-i", endpoint, "-t", "30s", ...args], { input, timeoutMs: 60_000 });
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
    const r = await crictlInTerminal(
      `unix://${servin.socket}`,
      `exec -it ${sleeper} sh -c 'stty size; tty >/dev/null && echo tty-ok'`,
      { cols: 91, rows: 33 },
    );
    expect(r.stdout).toContain("33 91");
    expect(r.stdout).toContain("tty-ok");
    expect(r.code).toBe(0);
  });

  it("attach: the running container's output (its CRI log untouched)", async () => {
    const ticker = await ok(["ps", "-q", "--name", "ticker"]);
    const text = await crictlAttachUntil(`unix://${servin.socket}`, ticker, "tick\ntick\n");
    expect(text).toContain("tick\ntick\n");
    expect(readFileSync(join(dir, "logs", "ticker.log"), "utf8")).toMatch(/ stdout F tick\n/);
  });

  it("port-forward: several connections through crictl's listener into the pod's network namespace", async () => {
    const local = 20000 + (process.pid % 20000);
    const { child, forwarding } = crictlPortForward(`unix://${servin.socket}`, pod, `${local}:8080`);
    const echo = (payload: string) => roundTrip(local, payload);
    try {
      expect(await forwarding(10_000)).toContain("Forwarding from");
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
