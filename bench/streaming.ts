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
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import {
  benchArg,
  containerdUp,
  ctrdSocket,
  quantile,
  removePods,
  sideBySideSetUp,
  sideBySideTearDown,
} from "../tooling/conformance/containerd-process.js";
import { crictl, freePort, kit, repo, ServinProcess } from "../tooling/conformance/servin-process.js";

const N = benchArg("n", "BENCH_N", 50);
const ROUNDS = benchArg("rounds", "BENCH_ROUNDS", 3);

const IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
const PORT = 8080;
const MIB = 1024 * 1024;
const TRANSFER = 100 * MIB;

type Side = "servin" | "containerd";
const SIDES: Side[] = ["servin", "containerd"];
/** ABBA: servin, containerd | containerd, servin | … so that going first or second falls on both alike. */
const order = (i: number): Side[] => (i % 2 === 0 ? SIDES : [...SIDES].reverse());

function log(line: string): void {
  process.stderr.write(`bench:streaming: ${line}\n`);
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
  const stale = await removePods(socket, "bench-streaming");
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

/** A quantile of samples that are never empty here. */
const q = (xs: number[], p: number): number => quantile(xs, p) ?? Number.NaN;

async function main(): Promise<number> {
  const setUp = await sideBySideSetUp(log);
  if ("code" in setUp) return setUp.code;
  const { kitWasUp, containerdWasUp } = setUp;
  const servin = await ServinProcess.create("servin-bench-streaming-");
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();
  const pods: Partial<Record<Side, SidePod>> = {};
  let code = 0;
  try {
    await containerdUp(log);
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
      servin: { p50: q(samples.servin, 0.5), spread: q(samples.servin, 0.9) },
      containerd: { p50: q(samples.containerd, 0.5), spread: q(samples.containerd, 0.9) },
      ratio: q(samples.servin, 0.5) / q(samples.containerd, 0.5),
    });
    const rows: Row[] = [
      latency("`crictl exec CTR true` round trip, ms (p50, p90)", exec),
      {
        what: "`crictl port-forward`, 100 MiB read on the host, MB/s (p50, min)",
        n: ROUNDS,
        servin: { p50: q(mbps.servin, 0.5), spread: Math.min(...mbps.servin) },
        containerd: { p50: q(mbps.containerd, 0.5), spread: Math.min(...mbps.containerd) },
        ratio: q(mbps.servin, 0.5) / q(mbps.containerd, 0.5),
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
    await sideBySideTearDown(servin, { kitWasUp, containerdWasUp }, log, "bench-streaming");
  }
  return code;
}

process.exitCode = await main();
