/**
 * The real `servin` binary under the conformance kit (`../shared/conformance`), shared by
 * `pnpm test:conformance` (run.ts) and `pnpm bench:cri` (bench/cri-lifecycle.ts): where the kit and
 * its state live, `up.sh`, starting `apps/servin/dist/servin.js cri start` with the kit's registry
 * mirrors (servin.toml) and CNI dirs on a private root, crictl against it, and tearing it all down
 * without leaving pods, runc containers or mounts behind.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

/** The repository root. */
export const repo = resolve(here, "../..");
/** The conformance kit: CONFORMANCE_KIT, or `../shared/conformance` beside the repository. */
export const kit = resolve(process.env.CONFORMANCE_KIT ?? join(repo, "../shared/conformance"));
/** The kit's state ($KIT_DIR of env.sh): registry, CNI config, results, containerd. */
export const kitDir = process.env.KIT_DIR ?? join(process.env.TMPDIR ?? "/tmp", "servin-conformance");
/** The kit's fenced CNI network (network-up.sh, run by up.sh) and the Debian plugins, as env.sh sets them. */
export const cniConfDir = process.env.CNI_CONF_DIR ?? join(kitDir, "cni/net.d");
export const cniBinDir = process.env.CNI_BIN_DIR ?? "/usr/lib/cni";
/** The built binary every run drives (never the sources: what ships is what is measured). */
export const servinBinary = join(repo, "apps/servin/dist/servin.js");

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result, not a throw. */
export async function sh(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ShResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, {
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr || e.message,
    };
  }
}

/** Why the kit cannot run here (not root, no kit, servin not built), or undefined when it can. */
export function kitUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  if (!existsSync(join(kit, "critest.sh"))) return `no conformance kit at ${kit}`;
  if (!existsSync(servinBinary)) return "servin is not built (pnpm build)";
  return undefined;
}

/** Whether the kit's registry is already running (so a caller that did not start it leaves it up). */
export function kitRegistryRunning(): boolean {
  const pidFile = join(kitDir, "registry/registry.pid");
  if (!existsSync(pidFile)) return false;
  try {
    const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
    if (!(pid > 0)) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `up.sh`: registry with critest's images, the fenced CNI bridge. Idempotent. */
export async function kitUp(): Promise<ShResult> {
  return sh("bash", [join(kit, "up.sh")], { timeoutMs: 10 * 60_000 });
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address ? res(address.port) : rej(new Error("no port")),
      );
    });
  });
}

function socketAccepts(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

/** crictl (the kit's, unmodified) against a CRI socket. */
export function crictl(socket: string) {
  const bin = join(kit, "bin/crictl");
  const endpoint = `unix://${socket}`;
  return (args: string[], timeoutMs = 120_000) =>
    sh(bin, ["--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "--timeout", "60s", ...args], {
      timeoutMs,
    });
}

/**
 * `servin cri start` (oci backend, disk images, the kit's registry as mirror of every upstream host,
 * the kit's CNI network) on a private temporary root, state dir, socket and HTTP port.
 */
export class ServinProcess {
  child?: ChildProcess;
  /** The last few MB of its stdout + stderr, for failure reports. */
  output = "";
  private constructor(
    /** The private directory: root/, state/, the socket. */
    readonly dir: string,
    readonly socket: string,
    readonly port: number,
  ) {}

  /** A new private directory and port; call start() next. */
  static async create(prefix = "servin-conformance-"): Promise<ServinProcess> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    return new ServinProcess(dir, join(dir, "servin.sock"), await freePort());
  }

  get endpoint(): string {
    return `unix://${this.socket}`;
  }

  async start(): Promise<void> {
    const args = [
      servinBinary,
      "cri",
      "start",
      "--backend",
      "oci",
      "--image-backend",
      "disk",
      "--root",
      join(this.dir, "root"),
      "--state-dir",
      join(this.dir, "state"),
      "--grpc-socket",
      this.socket,
      "--port",
      String(this.port),
      "--config",
      join(here, "servin.toml"),
      "--cni-conf-dir",
      cniConfDir,
      "--cni-bin-dir",
      cniBinDir,
    ];
    // SERVIN_NODE_ARGS: extra node flags for profiling (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    const nodeArgs = (process.env.SERVIN_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`servin exited with ${child.exitCode}:\n${this.output}`);
      if (await socketAccepts(this.socket)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`servin did not listen on ${this.socket} within 60 s:\n${this.output}`);
  }

  /** Stops and removes every pod servin still has; returns how many there were. */
  async removeAllPods(): Promise<number> {
    const c = crictl(this.socket);
    const pods = (await c(["pods", "-q"])).stdout.split("\n").filter(Boolean);
    for (const pod of pods) {
      await c(["stopp", pod]);
      await c(["rmp", pod]);
    }
    return pods.length;
  }

  /** SIGTERM (SIGKILL after 30 s) and wait for the exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }

  /** Whether it ended other than by a clean exit (its output is then worth showing). */
  get exitedBadly(): boolean {
    return this.child !== undefined && this.child.exitCode !== 0;
  }

  /** The containers left in servin's runc root (none after removeAllPods + stop). */
  async runcLeftovers(): Promise<string[]> {
    const runcRoot = join(this.dir, "state", "runtime", "runc");
    if (!existsSync(runcRoot)) return [];
    const listed = await sh("runc", ["--root", runcRoot, "list", "-q"]);
    return listed.stdout.split("\n").filter(Boolean);
  }

  /** Unmounts whatever is still mounted under the private directory and deletes it. */
  async removeDir(): Promise<void> {
    const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((m): m is string => !!m && m.startsWith(`${this.dir}/`))
      .sort()
      .reverse();
    for (const m of mounts) await sh("umount", ["-l", m]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
