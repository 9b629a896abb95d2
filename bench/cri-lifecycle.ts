/**
 * Benchmark (not a test): critest's own benchmarks (`../shared/conformance/bench.sh`: pod, container
 * and image lifecycles, BENCH_N sequential samples each) against the real servin binary and against
 * containerd 1.6 (`containerd-up.sh`) in the same run, both with the kit's CNI bridge, and one table of
 * per-operation medians / p90 and servin ÷ containerd ratios, with RunPodSandbox + StopPodSandbox +
 * RemovePodSandbox and the whole pod + container lifecycle summed.
 *
 * 1. sets up the kit (`up.sh`) and containerd (installs the Debian package when missing);
 * 2. starts `servin cri start` with the kit's mirrors and CNI dirs (tooling/conformance/servin-process.ts,
 *    shared with `pnpm test:conformance`);
 * 3. runs bench.sh `--rounds` times per side in ABBA order (servin, containerd, containerd, servin, …)
 *    so that whoever goes first or second pays alike, and pools each side's samples;
 * 4. prints the markdown table and writes bench/results/cri-lifecycle.json;
 * 5. removes servin's pods, stops it, stops containerd if it started it, and `down.sh` if the kit was
 *    not up before (a registry that was running stays up).
 *
 * Run: pnpm bench:cri  [--n 20] [--rounds 2]   (BENCH_N / BENCH_ROUNDS in the environment too; root)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  benchArg,
  containerdUp,
  ctrdSocket,
  quantile,
  sideBySideSetUp,
  sideBySideTearDown,
} from "../tooling/conformance/containerd-process.js";
import { crictl, kit, kitDir, repo, ServinProcess, sh } from "../tooling/conformance/servin-process.js";

const N = benchArg("n", "BENCH_N", 20);
const ROUNDS = benchArg("rounds", "BENCH_ROUNDS", 2);

const resultsRoot = process.env.RESULTS ?? join(kitDir, "results");

type Side = "servin" | "containerd";
const SIDES: Side[] = ["servin", "containerd"];

function log(line: string): void {
  process.stderr.write(`bench:cri: ${line}\n`);
}

/** critest's operation names, in the CRI's words; the order of the table. */
const OPERATIONS: Array<[bench: string, op: string, cri: string]> = [
  ["pod", "CreatePod", "RunPodSandbox"],
  ["pod", "StatusPod", "PodSandboxStatus"],
  ["pod", "StopPod", "StopPodSandbox"],
  ["pod", "RemovePod", "RemovePodSandbox"],
  ["container", "CreateContainer", "CreateContainer"],
  ["container", "StartContainer", "StartContainer"],
  ["container", "StatusContainer", "ContainerStatus"],
  ["container", "StopContainer", "StopContainer"],
  ["container", "RemoveContainer", "RemoveContainer"],
  ["image_lifecycle", "PullImage", "PullImage (small image, local registry)"],
  ["image_lifecycle", "StatusImage", "ImageStatus"],
  ["image_lifecycle", "RemoveImage", "RemoveImage"],
  ["image_listing", "ListImages", "ListImages"],
];
const POD_SUM = ["RunPodSandbox", "StopPodSandbox", "RemovePodSandbox"];
const LIFECYCLE_SUM = [
  "RunPodSandbox",
  "CreateContainer",
  "StartContainer",
  "StopContainer",
  "RemoveContainer",
  "StopPodSandbox",
  "RemovePodSandbox",
];
const FROM_SCRATCH = "RunPodSandbox + CreateContainer + StartContainer (critest's start from scratch)";

/** Samples in ms per CRI operation, pooled over rounds; pod sums per sample (same datapoint). */
interface SideSamples {
  ops: Map<string, number[]>;
  podSums: number[];
  runs: Array<{ runName: string; code: number; specs: string[] }>;
}

function push(map: Map<string, number[]>, key: string, xs: number[]): void {
  const list = map.get(key) ?? [];
  list.push(...xs);
  map.set(key, list);
}

/** Reads one bench.sh output directory: the *_benchmark_data.json files and report.json's gmeasure entries. */
function readRun(dir: string, into: SideSamples): string[] {
  const specs: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith("_benchmark_data.json"))) {
    const bench = file.replace(/_benchmark_data\.json$/, "");
    const data = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
      operationsNames: string[];
      datapoints: Array<{ operationsDurationsNs: number[] }> | null;
    };
    const points = data.datapoints ?? [];
    data.operationsNames.forEach((op, i) => {
      const cri = OPERATIONS.find(([b, o]) => b === bench && o === op)?.[2] ?? `${bench}: ${op}`;
      push(
        into.ops,
        cri,
        points.map((p) => (p.operationsDurationsNs[i] ?? Number.NaN) / 1e6).filter(Number.isFinite),
      );
    });
    if (bench === "pod") {
      const idx = ["CreatePod", "StopPod", "RemovePod"].map((op) => data.operationsNames.indexOf(op));
      if (idx.every((i) => i >= 0))
        for (const p of points)
          into.podSums.push(idx.reduce((s, i) => s + (p.operationsDurationsNs[i] ?? 0), 0) / 1e6);
    }
  }
  const report = join(dir, "report.json");
  if (existsSync(report)) {
    const suites = JSON.parse(readFileSync(report, "utf8")) as Array<{
      SpecReports?: Array<{
        LeafNodeType?: string;
        LeafNodeText?: string;
        State?: string;
        ReportEntries?: Array<{ Value?: { AsJSON?: string } }> | null;
      }>;
    }>;
    for (const spec of suites.flatMap((s) => s.SpecReports ?? [])) {
      if (spec.LeafNodeType !== "It" || spec.State === "skipped") continue;
      specs.push(`${spec.LeafNodeText}: ${spec.State}`);
      for (const entry of spec.ReportEntries ?? []) {
        try {
          const exp = JSON.parse(entry.Value?.AsJSON ?? "null") as {
            Measurements?: Array<{ Name?: string; Durations?: number[] | null }>;
          } | null;
          for (const m of exp?.Measurements ?? [])
            if (m.Name === "create PodSandbox and container" && m.Durations?.length)
              push(
                into.ops,
                FROM_SCRATCH,
                m.Durations.map((d) => d / 1e6),
              );
        } catch {
          // an entry that is not a gmeasure experiment
        }
      }
    }
  }
  return specs;
}

interface Row {
  operation: string;
  n: Record<Side, number>;
  median: Record<Side, number | undefined>;
  p90: Record<Side, number | undefined>;
  ratio?: number;
}

function row(operation: string, samples: Record<Side, number[]>): Row {
  const med = (s: Side) => quantile(samples[s], 0.5);
  const servin = med("servin");
  const containerd = med("containerd");
  return {
    operation,
    n: { servin: samples.servin.length, containerd: samples.containerd.length },
    median: { servin, containerd },
    p90: { servin: quantile(samples.servin, 0.9), containerd: quantile(samples.containerd, 0.9) },
    ...(servin !== undefined && containerd ? { ratio: servin / containerd } : {}),
  };
}

function sumRow(operation: string, parts: Row[]): Row {
  const total = (s: Side) =>
    parts.every((r) => r.median[s] !== undefined)
      ? parts.reduce((a, r) => a + (r.median[s] ?? 0), 0)
      : undefined;
  const servin = total("servin");
  const containerd = total("containerd");
  return {
    operation,
    n: {
      servin: Math.min(...parts.map((r) => r.n.servin)),
      containerd: Math.min(...parts.map((r) => r.n.containerd)),
    },
    median: { servin, containerd },
    p90: { servin: undefined, containerd: undefined },
    ...(servin !== undefined && containerd ? { ratio: servin / containerd } : {}),
  };
}

function markdown(rows: Row[]): string {
  const f = (x: number | undefined) => (x === undefined ? "–" : x < 10 ? x.toFixed(2) : x.toFixed(1));
  const lines = [
    "| operation (ms) | n | servin p50 | servin p90 | containerd p50 | containerd p90 | ratio p50 |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows)
    lines.push(
      `| ${r.operation} | ${r.n.servin === r.n.containerd ? r.n.servin : `${r.n.servin} / ${r.n.containerd}`} | ${f(r.median.servin)} | ${f(r.p90.servin)} | ${f(r.median.containerd)} | ${f(r.p90.containerd)} | ${r.ratio === undefined ? "–" : `${r.ratio.toFixed(2)}×`} |`,
    );
  return lines.join("\n");
}

/**
 * Proves a side networks its pods through CNI before its figures count: one pod must get an IP from
 * the kit's bridge subnet (a loopback-only pod would make RunPodSandbox look cheap).
 */
async function checkCni(side: Side, socket: string, dir: string): Promise<string> {
  const c = crictl(socket);
  const podJson = join(dir, `cni-check-${side}.json`);
  writeFileSync(
    podJson,
    JSON.stringify({
      metadata: {
        name: `cni-check-${side}`,
        namespace: "bench-cri",
        uid: `cni-check-${side}-${process.pid}`,
        attempt: 1,
      },
      log_directory: join(dir, `cni-check-${side}-logs`),
      linux: {},
    }),
  );
  const run = await c(["runp", podJson]);
  const pod = run.stdout.trim();
  if (run.code !== 0 || !pod) throw new Error(`${side}: runp for the cni check failed: ${run.stderr.trim()}`);
  try {
    const status = JSON.parse((await c(["inspectp", pod])).stdout) as {
      status?: { network?: { ip?: string } };
    };
    const ip = status.status?.network?.ip ?? "";
    if (!ip) throw new Error(`${side}: the cni check pod got no ip: is the kit's cni config in place?`);
    return ip;
  } finally {
    await c(["stopp", pod]);
    await c(["rmp", pod]);
  }
}

async function benchSide(side: Side, endpoint: string, runName: string, into: SideSamples): Promise<void> {
  log(`bench.sh against ${side} (${runName}, BENCH_N=${N}) …`);
  const started = Date.now();
  const r = await sh("bash", [join(kit, "bench.sh")], {
    env: { ...process.env, CRI_ENDPOINT: endpoint, RUN_NAME: runName, BENCH_N: String(N) },
    timeoutMs: 30 * 60_000,
  });
  const dir = join(resultsRoot, runName);
  const specs = existsSync(dir) ? readRun(dir, into) : [];
  into.runs.push({ runName, code: r.code, specs });
  log(`${side}: exit ${r.code} in ${Math.round((Date.now() - started) / 1000)} s; ${specs.join("; ")}`);
  if (r.code !== 0) log(`${side}: see ${join(dir, "bench.log")}`);
}

async function main(): Promise<number> {
  const setUp = await sideBySideSetUp(log);
  if ("code" in setUp) return setUp.code;
  const { kitWasUp, containerdWasUp } = setUp;
  const servin = await ServinProcess.create("servin-bench-cri-");
  const samples: Record<Side, SideSamples> = {
    servin: { ops: new Map(), podSums: [], runs: [] },
    containerd: { ops: new Map(), podSums: [], runs: [] },
  };
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const loadBefore = load();
  let code = 0;
  try {
    await containerdUp(log);
    await servin.start();
    log(`servin listening on ${servin.endpoint}`);
    const endpoints: Record<Side, string> = { servin: servin.endpoint, containerd: `unix://${ctrdSocket}` };
    const ips = [
      await checkCni("servin", servin.socket, servin.dir),
      await checkCni("containerd", ctrdSocket, servin.dir),
    ];
    log(`cni on both sides: a servin pod got ${ips[0]}, a containerd pod ${ips[1]}`);
    for (let round = 0; round < ROUNDS; round++) {
      // ABBA: servin, containerd | containerd, servin | …
      const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
      for (const side of order) {
        await benchSide(side, endpoints[side], `cri-lifecycle-${stamp}-${side}-r${round + 1}`, samples[side]);
        if (side === "servin") {
          const left = await servin.removeAllPods();
          if (left > 0) log(`removed ${left} pod(s) critest left in servin`);
        }
      }
    }
    const loadAfter = load();
    const pick = (name: string) => ({
      servin: samples.servin.ops.get(name) ?? [],
      containerd: samples.containerd.ops.get(name) ?? [],
    });
    const known = OPERATIONS.map(([, , cri]) => cri);
    const others = [...new Set(SIDES.flatMap((s) => [...samples[s].ops.keys()]))].filter(
      (k) => !known.includes(k) && k !== FROM_SCRATCH,
    );
    const rows = [...known, ...others, FROM_SCRATCH]
      .map((name) => row(name, pick(name)))
      .filter((r) => r.n.servin + r.n.containerd > 0);
    const byName = (name: string) => rows.find((r) => r.operation === name);
    const sums: Row[] = [];
    const podParts = POD_SUM.map(byName).filter((r): r is Row => r !== undefined);
    if (podParts.length === POD_SUM.length) {
      sums.push(
        row("**RunPodSandbox + StopPodSandbox + RemovePodSandbox** (per-sample sum)", {
          servin: samples.servin.podSums,
          containerd: samples.containerd.podSums,
        }),
      );
    }
    const lifeParts = LIFECYCLE_SUM.map(byName).filter((r): r is Row => r !== undefined);
    if (lifeParts.length === LIFECYCLE_SUM.length)
      sums.push(sumRow("**pod + container lifecycle** (sum of the 7 medians)", lifeParts));
    const table = markdown([...rows, ...sums]);
    const failed = SIDES.flatMap((s) => samples[s].runs.filter((r) => r.code !== 0).map((r) => r.runName));
    const note = `${new Date().toISOString().slice(0, 10)}, BENCH_N=${N} × ${ROUNDS} round(s) per side (ABBA), both sides with the kit's CNI bridge; load average ${loadBefore} before, ${loadAfter} after`;
    process.stdout.write(`${table}\n\n${note}\n`);
    if (failed.length > 0) {
      process.stdout.write(`bench.sh failed in: ${failed.join(", ")} (their samples are still counted)\n`);
      code = 1;
    }
    const out = join(repo, "bench/results");
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, "cri-lifecycle.json"),
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          benchN: N,
          rounds: ROUNDS,
          loadavg: { before: loadBefore, after: loadAfter },
          rows: [...rows, ...sums],
          runs: { servin: samples.servin.runs, containerd: samples.containerd.runs },
          samples: Object.fromEntries(
            SIDES.map((s) => [s, { ...Object.fromEntries(samples[s].ops), podSums: samples[s].podSums }]),
          ),
        },
        null,
        2,
      )}\n`,
    );
    log(`wrote ${join(out, "cri-lifecycle.json")}`);
  } catch (err) {
    log(`failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    await sideBySideTearDown(servin, { kitWasUp, containerdWasUp }, log);
  }
  return code;
}

process.exitCode = await main();
