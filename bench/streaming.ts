/**
 * Benchmark (not a test): streaming through the unmodified crictl of the conformance kit, servin against
 * containerd 1.6 in the same run, both with the kit's CNI bridge and the same image
 * (registry.k8s.io/e2e-test-images/busybox:1.29-2 from the kit's registry):
 *
 * - exec round trip: wall time of `crictl exec CTR true` (Exec RPC, SPDY upgrade to the runtime's
 *   streaming server, the process in the container, its exit status back), `--n` samples per side,
 *   the sides taking turns sample by sample (ABBA), p50 / p90;
 * - port-forward throughput: per round a fresh `crictl port-forward POD LOCAL:8080` to a container
 *   serving `dd if=/dev/zero bs=1M count=100 | nc -l -p 8080` in a loop; the host connects to LOCAL and
 *   reads to EOF (100 MiB), MB/s = bytes / (connect → EOF), `--rounds` rounds per side (ABBA).
 *
 * Prints a table with the ratios servin ÷ containerd (latency: below 1 is servin faster; throughput:
 * above 1 is servin faster) and writes bench/results/streaming.json. Afterwards it removes both sides'
 * pods, stops servin, stops containerd if it started it, and runs `down.sh` only if the kit was not up.
 *
 * Run: pnpm bench:streaming  [--n 50] [--rounds 3]   (BENCH_N / BENCH_ROUNDS in the environment too; root)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  crictl,
  freePort,
  kit,
  kitDir,
  kitRegistryRunning,
  kitUnavailable,
  kitUp,
  repo,
  ServinProcess,
  sh,
} from "../tooling/conformance/servin-process.js";

const arg = (name: string, env: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i > 0 ? process.argv[i + 1] : process.env[env];
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected a positive integer, got "${raw}"`);
  return n;
};
const N = arg("n", "BENCH_N", 50);
const ROUNDS = arg("rounds", "BENCH_ROUNDS", 3);

const IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
const PORT = 8080;
const MIB = 1024 * 1024;
const TRANSFER = 100 * MIB;

const ctrdDir = join(kitDir, "containerd");
const ctrdSocket = process.env.CTRD_SOCK ?? join(ctrdDir, "containerd.sock");
const ctrdPidFile = join(ctrdDir, "containerd.pid");

type Side = "servin" | "containerd";
const SIDES: Side[] = ["servin", "containerd"];
/** ABBA: servin, containerd | containerd, servin | … so that going first or second falls on both alike. */
const order = (i: number): Side[] => (i % 2 === 0 ? SIDES : [...SIDES].reverse());

function log(line: string): void {
  process.stderr.write(`bench:streaming: ${line}\n`);
}

// pidAlive, containerdUp and containerdDown as in bench/cri-lifecycle.ts (a script, nothing to import).
function pidAlive(pidFile: string): number | undefined {
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

async function containerdUp(): Promise<void> {
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

async function removePods(socket: string): Promise<number> {
  const c = crictl(socket);
  const pods = (await c(["pods", "-q", "--namespace", "bench-streaming"])).stdout.split("\n").filter(Boolean);
  for (const pod of pods) {
    await c(["stopp", pod]);
    await c(["rmp", pod]);
  }
  return pods.length;
}

async function containerdDown(): Promise<void> {
  await removePods(ctrdSocket);
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

interface Row {
  what: string;
  n: number;
  servin: { p50: number; spread: number };
  containerd: { p50: number; spread: number };
  ratio: number;
}

interface SidePod {
  socket: string;
  pod: string;
  /** `sleep 3600`: the exec target. */
  sleeper: string;
  forward?: ChildProcess;
  localPort?: number;
}

/** One pod per side with the exec target and the 100 MiB source, through crictl like everything else. */
async function setUpSide(side: Side, socket: string, dir: string): Promise<SidePod> {
  const c = crictl(socket);
  const ok = async (args: string[]) => {
    const r = await c(args);
    if (r.code !== 0) throw new Error(`${side}: crictl ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  await ok(["pull", IMAGE]);
  const stale = await removePods(socket);
  if (stale > 0) log(`${side}: removed ${stale} pod(s) an earlier run left`);
  const podJson = join(dir, `pod-${side}.json`);
  writeFileSync(
    podJson,
    JSON.stringify({
      metadata: {
        name: `streaming-${side}`,
        namespace: "bench-streaming",
        uid: `streaming-${side}-${process.pid}`,
      },
      log_directory: join(dir, `logs-${side}`),
      linux: {},
    }),
  );
  const pod = await ok(["runp", podJson]);
  const container = async (name: string, command: string[]) => {
    const json = join(dir, `${name}-${side}.json`);
    writeFileSync(
      json,
      JSON.stringify({
        metadata: { name },
        image: { image: IMAGE },
        command,
        log_path: `${name}.log`,
        linux: {},
      }),
    );
    const id = await ok(["create", pod, json, podJson]);
    await ok(["start", id]);
    return id;
  };
  const sleeper = await container("sleeper", ["sleep", "3600"]);
  // a fresh 100 MiB per connection; the small busybox nc half-closes at dd's end and exits at the peer's
  await container("source", [
    "sh",
    "-c",
    `while :; do dd if=/dev/zero bs=1M count=100 2>/dev/null | nc -l -p ${PORT}; done`,
  ]);
  return { socket, pod, sleeper };
}

/** Wall time of one `crictl exec CTR true`, in ms. */
async function execRoundTrip(side: SidePod): Promise<number> {
  const started = process.hrtime.bigint();
  const r = await crictl(side.socket)(["exec", side.sleeper, "true"], 60_000);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.code !== 0) throw new Error(`crictl exec failed: ${r.stderr.trim()}`);
  return ms;
}

/** `crictl port-forward POD LOCAL:8080` in the background; resolves once it says it is forwarding. */
async function startForward(side: SidePod): Promise<void> {
  const local = await freePort();
  const child = spawn(
    join(kit, "bin/crictl"),
    ["--runtime-endpoint", `unix://${side.socket}`, "port-forward", side.pod, `${local}:${PORT}`],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      text += d.toString();
      if (text.includes("Forwarding from")) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`crictl port-forward exited with ${code}: ${text}`)));
    setTimeout(() => reject(new Error(`crictl port-forward did not start: ${text}`)), 30_000).unref();
  });
  side.forward = child;
  side.localPort = local;
}

/** Reads the forwarded port to EOF: bytes and seconds from connect to EOF. */
function readForwarded(port: number): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let bytes = 0;
    const socket = connect({ host: "127.0.0.1", port, noDelay: true });
    socket.on("data", (d: Buffer) => {
      bytes += d.length;
    });
    socket.once("end", () => {
      resolve({ bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      socket.destroy();
    });
    socket.once("error", reject);
    socket.setTimeout(120_000, () => socket.destroy(new Error("no data for 120 s")));
  });
}

/**
 * One 100 MiB transfer in MB/s (10^6 bytes/s) through a fresh `crictl port-forward` (crictl may end its
 * forwarding once a connection's remote side closes); a short read (the listener in the pod not up
 * again yet) is retried.
 */
async function throughput(side: SidePod): Promise<number> {
  await startForward(side);
  try {
    let last = "";
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await readForwarded(side.localPort!).catch((err: Error) => ({ bytes: -1, seconds: 0, err }));
      if (r.bytes === TRANSFER) return TRANSFER / 1e6 / r.seconds;
      last = "err" in r ? r.err.message : `${r.bytes} bytes`;
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`port-forward did not deliver ${TRANSFER} bytes: last ${last}`);
  } finally {
    side.forward?.kill("SIGTERM");
  }
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  if (q === 0.5) {
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  }
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

async function main(): Promise<number> {
  const unavailable = kitUnavailable();
  if (unavailable) {
    log(`skipped: ${unavailable}`);
    return process.env.SERVIN_REQUIRE_REAL === "1" ? 1 : 0;
  }
  const kitWasUp = kitRegistryRunning();
  const containerdWasUp = pidAlive(ctrdPidFile) !== undefined;
  log(`setting up the kit (${kit}/up.sh) …`);
  const up = await kitUp();
  if (up.code !== 0) {
    log(`up.sh failed:\n${up.stdout}\n${up.stderr}`);
    return 1;
  }
  const servin = await ServinProcess.create("servin-bench-streaming-");
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();
  const pods: Partial<Record<Side, SidePod>> = {};
  let code = 0;
  try {
    await containerdUp();
    await servin.start();
    log(`servin listening on ${servin.endpoint}`);
    pods.servin = await setUpSide("servin", servin.socket, servin.dir);
    pods.containerd = await setUpSide("containerd", ctrdSocket, servin.dir);
    const sides = pods as Record<Side, SidePod>;

    const exec: Record<Side, number[]> = { servin: [], containerd: [] };
    for (const side of SIDES) await execRoundTrip(sides[side]); // warm-up: page cache, first SPDY handshake
    for (let i = 0; i < N; i++)
      for (const side of order(i)) exec[side].push(await execRoundTrip(sides[side]));
    log(`crictl exec: ${N} samples per side`);

    const mbps: Record<Side, number[]> = { servin: [], containerd: [] };
    for (const side of SIDES) await throughput(sides[side]); // warm-up, and proof that the source listens
    for (let round = 0; round < ROUNDS; round++)
      for (const side of order(round)) {
        const rate = await throughput(sides[side]);
        mbps[side].push(rate);
        log(`port-forward ${side} round ${round + 1}: ${rate.toFixed(1)} MB/s`);
      }
    const loadAfter = load();

    const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "–");
    const latency = (what: string, samples: Record<Side, number[]>): Row => ({
      what,
      n: samples.servin.length,
      servin: { p50: quantile(samples.servin, 0.5), spread: quantile(samples.servin, 0.9) },
      containerd: { p50: quantile(samples.containerd, 0.5), spread: quantile(samples.containerd, 0.9) },
      ratio: quantile(samples.servin, 0.5) / quantile(samples.containerd, 0.5),
    });
    const rows: Row[] = [
      latency("`crictl exec CTR true` round trip, ms (p50, p90)", exec),
      {
        what: "`crictl port-forward`, 100 MiB read on the host, MB/s (p50, min)",
        n: ROUNDS,
        servin: { p50: quantile(mbps.servin, 0.5), spread: Math.min(...mbps.servin) },
        containerd: { p50: quantile(mbps.containerd, 0.5), spread: Math.min(...mbps.containerd) },
        ratio: quantile(mbps.servin, 0.5) / quantile(mbps.containerd, 0.5),
      },
    ];
    const table = [
      "| what | n | servin p50 | servin p90 / min | containerd p50 | containerd p90 / min | servin ÷ containerd (p50) |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...rows.map(
        (r) =>
          `| ${r.what} | ${r.n} | ${f(r.servin.p50)} | ${f(r.servin.spread)} | ${f(r.containerd.p50)} | ${f(r.containerd.spread)} | ${f(r.ratio, 2)}× |`,
      ),
    ].join("\n");
    const note = `${new Date().toISOString().slice(0, 10)}, crictl from the kit, both sides with the kit's CNI bridge and ${IMAGE}; load average ${loadBefore} before, ${loadAfter} after`;
    process.stdout.write(`${table}\n\n${note}\n`);
    const out = join(repo, "bench/results");
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, "streaming.json"),
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          n: N,
          rounds: ROUNDS,
          transferBytes: TRANSFER,
          loadavg: { before: loadBefore, after: loadAfter },
          rows,
          samples: { crictlExecMs: exec, portForwardMBps: mbps },
        },
        null,
        2,
      )}\n`,
    );
    log(`wrote ${join(out, "streaming.json")}`);
  } catch (err) {
    log(`failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    for (const side of SIDES) pods[side]?.forward?.kill("SIGTERM");
    const left = await servin.removeAllPods().catch(() => 0);
    if (left > 0) log(`removed ${left} servin pod(s)`);
    await servin.stop();
    if (servin.exitedBadly) log(`servin's last output:\n${servin.output.slice(-3000)}`);
    const runc = await servin.runcLeftovers();
    if (runc.length > 0) log(`containers left in servin's runc root: ${runc.join(" ")}`);
    await servin.removeDir();
    if (!kitWasUp) {
      // down.sh stops containerd (after removing its pods) and the registry, and removes the network.
      const down = await sh("bash", [join(kit, "down.sh")], { timeoutMs: 5 * 60_000 });
      log(down.stdout.trim().replace(/\n/g, "; "));
    } else if (!containerdWasUp) {
      await containerdDown();
    } else {
      await removePods(ctrdSocket).catch(() => 0);
    }
  }
  return code;
}

process.exitCode = await main();
