/**
 * containerd as the reference runtime of the side-by-side benchmarks (bench/cri-lifecycle.ts,
 * bench/streaming.ts): installed from Debian when missing, started with the kit's containerd-up.sh,
 * stopped with its pods and shims. Plus the small pieces both benchmarks share (arguments, quantiles).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  crictl,
  kit,
  kitDir,
  kitRegistryRunning,
  kitUnavailable,
  kitUp,
  type ServinProcess,
  sh,
} from "./servin-process.js";

export const ctrdDir = join(kitDir, "containerd");
export const ctrdSocket = process.env.CTRD_SOCK ?? join(ctrdDir, "containerd.sock");
export const ctrdPidFile = join(ctrdDir, "containerd.pid");

/** A positive integer from `--name N` or the environment variable `env`, else `fallback`. */
export function benchArg(name: string, env: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i > 0 ? process.argv[i + 1] : process.env[env];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got "${raw}"`);
  return n;
}

/** The median (q = 0.5, the mean of the middle two) or the nearest-rank quantile; undefined when empty. */
export function quantile(xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  if (q === 0.5) {
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid] : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  }
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

/** The live pid recorded in `pidFile`, if any. */
export function pidAlive(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
  if (!(pid > 0)) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Installs containerd (Debian package) when missing and starts it with containerd-up.sh. */
export async function containerdUp(log: (line: string) => void): Promise<void> {
  if ((await sh("sh", ["-c", "command -v containerd"])).code !== 0) {
    log("containerd is not installed: apt-get install -y containerd …");
    const r = await sh("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "containerd"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      timeoutMs: 10 * 60_000,
    });
    if (r.code !== 0) throw new Error(`apt-get install containerd failed: ${r.stderr.slice(-1000)}`);
  }
  const r = await sh("bash", [join(kit, "containerd-up.sh")], { timeoutMs: 5 * 60_000 });
  if (r.code !== 0) throw new Error(`containerd-up.sh failed: ${r.stdout}${r.stderr}`);
  log(r.stdout.trim());
}

/** Stops and removes the pods on `socket` (only those of `namespace` when given); answers how many. */
export async function removePods(socket: string, namespace?: string): Promise<number> {
  const c = crictl(socket);
  const pods = (await c(["pods", "-q", ...(namespace ? ["--namespace", namespace] : [])])).stdout
    .split("\n")
    .filter(Boolean);
  for (const pod of pods) {
    await c(["stopp", pod]);
    await c(["rmp", pod]);
  }
  return pods.length;
}

/** What down.sh does for containerd, without touching the registry or the network: pods, daemon, shims. */
export async function containerdDown(log: (line: string) => void, namespace?: string): Promise<void> {
  await removePods(ctrdSocket, namespace);
  const pid = pidAlive(ctrdPidFile);
  if (pid !== undefined) {
    process.kill(pid, "SIGTERM");
    for (let i = 0; i < 50 && pidAlive(ctrdPidFile) !== undefined; i++)
      await new Promise((r) => setTimeout(r, 200));
    if (pidAlive(ctrdPidFile) !== undefined) process.kill(pid, "SIGKILL");
  }
  // Shims of this containerd (started by it, for its socket only) outlive it by design.
  const shims = await sh("pgrep", ["-f", "--", `-address ${ctrdSocket}`]);
  for (const shim of shims.stdout.split("\n").filter(Boolean)) {
    try {
      process.kill(Number(shim), "SIGTERM");
    } catch {
      // already gone
    }
  }
  log("containerd stopped");
}

/**
 * The start of a side-by-side run: without the kit (or root, or a build) it skips, answering the exit
 * code (1 under SERVIN_REQUIRE_REAL); otherwise it sets the kit up and says what was already running,
 * so that the run tears down only what it started.
 */
export async function sideBySideSetUp(
  log: (line: string) => void,
): Promise<{ code: number } | { kitWasUp: boolean; containerdWasUp: boolean }> {
  const unavailable = kitUnavailable();
  if (unavailable) {
    log(`skipped: ${unavailable}`);
    return { code: process.env.SERVIN_REQUIRE_REAL === "1" ? 1 : 0 };
  }
  const kitWasUp = kitRegistryRunning();
  const containerdWasUp = pidAlive(ctrdPidFile) !== undefined;
  log(`setting up the kit (${kit}/up.sh) …`);
  const up = await kitUp();
  if (up.code !== 0) {
    log(`up.sh failed:\n${up.stdout}\n${up.stderr}`);
    return { code: 1 };
  }
  return { kitWasUp, containerdWasUp };
}

/**
 * The end of a side-by-side run: servin's pods removed, servin stopped (its last output and any
 * container left in its runc root reported), its directory removed; then only what the run started:
 * the whole kit (down.sh) or containerd, else just the pods of `namespace` in a containerd that was
 * already running (all its pods when no namespace is given are left to their owner).
 */
export async function sideBySideTearDown(
  servin: ServinProcess,
  was: { kitWasUp: boolean; containerdWasUp: boolean },
  log: (line: string) => void,
  namespace?: string,
): Promise<void> {
  const left = await servin.removeAllPods().catch(() => 0);
  if (left > 0) log(`removed ${left} pod(s) left in servin`);
  await servin.stop();
  if (servin.exitedBadly) log(`servin's last output:\n${servin.output.slice(-3000)}`);
  const runc = await servin.runcLeftovers();
  if (runc.length > 0) log(`containers left in servin's runc root: ${runc.join(" ")}`);
  await servin.removeDir();
  if (!was.kitWasUp) {
    // down.sh stops containerd (after removing its pods) and the registry, and removes the network.
    const down = await sh("bash", [join(kit, "down.sh")], { timeoutMs: 5 * 60_000 });
    log(down.stdout.trim().replace(/\n/g, "; "));
  } else if (!was.containerdWasUp) {
    // A containerd this run started holds only this run's pods (critest's too): all of them go.
    await containerdDown(log);
  } else if (namespace) {
    await removePods(ctrdSocket, namespace).catch(() => 0);
  }
}
