/**
 * Benchmark (not a test): per-call latency of status and list calls with 200 containers present, and
 * daemon memory, servin (the built binary) vs containerd 1.6, one run, the same client for both
 * (bench/lib/status-scale.ts), and the floor under both (bench/lib/floor-responder.ts). Sets up and
 * tears down like `pnpm bench:cri`.
 *
 * Run: node --import tsx bench/cri-calls.ts [--pods 20] [--containers 10] [--calls 10000] [--warm 5000]
 *        [--idle-settle 1]   (root)
 * SERVIN_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the servin side; BENCH_SERVIN_OUTPUT=FILE keeps
 * what servin printed (e.g. with SERVIN_NODE_ARGS="--trace-gc"); BENCH_SERIES=1 keeps every timed call's
 * latency, in call order, in the results JSON (`series` of each row: where in the window a tail lies).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  benchArg,
  containerdUp,
  ctrdPidFile,
  ctrdSocket,
  pidAlive,
  sideBySideSetUp,
  sideBySideTearDown,
} from "../tooling/conformance/containerd-process.js";
import { repo, ServinProcess } from "../tooling/conformance/servin-process.js";
import { startFloorResponder } from "./lib/floor-responder.js";
import { measureStatusScale, type ScaleSide, scaleTable, WARM_CALLS } from "./lib/status-scale.js";

const PODS = benchArg("pods", "BENCH_PODS", 20);
const CONTAINERS = benchArg("containers", "BENCH_CONTAINERS", 10);
const CALLS = benchArg("calls", "BENCH_CALLS", 10_000);
const WARM = benchArg("warm", "BENCH_WARM", WARM_CALLS);
const IDLE_SETTLE_S = benchArg("idle-settle", "BENCH_IDLE_SETTLE", 1);
const NAMESPACE = "bench-status";

const log = (line: string) => process.stderr.write(`bench:calls: ${line}\n`);

const was = await sideBySideSetUp(log);
if ("code" in was) process.exit(was.code);
const servin = await ServinProcess.create("servin-bench-calls-");
let code = 0;
try {
  await containerdUp(log);
  const servinStarted = Date.now();
  await servin.start();
  const ctrdPid = pidAlive(ctrdPidFile);
  if (!ctrdPid || !servin.child?.pid) throw new Error("a daemon has no pid");
  const sides: ScaleSide[] = [
    {
      name: "servin",
      socket: servin.socket,
      pid: servin.child.pid,
      perPodPattern: new RegExp(`(conmon|catatonit).*${servin.dir}`),
    },
    {
      name: "containerd",
      socket: ctrdSocket,
      pid: ctrdPid,
      perPodPattern: new RegExp(`containerd-shim.*-address ${ctrdSocket}|^/pause`),
    },
  ];
  const floor = await startFloorResponder(join(servin.dir, "floor.sock"));
  const result = await measureStatusScale(sides, {
    pods: PODS,
    containersPerPod: CONTAINERS,
    calls: CALLS,
    idleSettleMs: IDLE_SETTLE_S * 1000,
    namespace: NAMESPACE,
    floor,
    warmCalls: WARM,
    keepSeries: process.env.BENCH_SERIES === "1",
    log,
  }).finally(() => floor.stop());
  const table = scaleTable(result);
  process.stdout.write(`${table}\n`);
  process.stdout.write("\ntails (ms): p90 / p95 / p98 / p99 / p99.5 / p99.9 / max\n");
  for (const r of result.rows) {
    const t = r.tail;
    const cells = [t.p90, t.p95, t.p98, r.p99, t.p995, t.p999, t.max].map((x) => x.toFixed(2));
    process.stdout.write(`${r.op.padEnd(17)} ${r.side.padEnd(11)} ${cells.join(" / ")}\n`);
  }
  mkdirSync(join(repo, "bench/results"), { recursive: true });
  writeFileSync(
    join(repo, "bench/results/cri-calls.json"),
    `${JSON.stringify({ date: new Date().toISOString(), servinStarted, pods: PODS, containers: CONTAINERS, calls: CALLS, warm: WARM, ...result }, null, 2)}\n`,
  );
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  code = 1;
} finally {
  await sideBySideTearDown(servin, was, log, NAMESPACE);
  // With SERVIN_NODE_ARGS="--trace-gc" and the like: what servin printed (its shutdown too), for reading
  // afterwards. `servinStarted` in the results is taken just before servin is spawned; V8's --trace-gc
  // times count from its isolate's start, some 0.1 s later.
  const keep = process.env.BENCH_SERVIN_OUTPUT;
  if (keep) {
    try {
      writeFileSync(keep, servin.output);
    } catch (err) {
      log(`could not write servin's output to ${keep}: ${err instanceof Error ? err.message : String(err)}`);
      code = 1;
    }
  }
}
process.exit(code);
