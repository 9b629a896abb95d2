/**
 * Where does servin's memory go over a long pod churn (issue #13, "no growth over a 1,000-pod churn")?
 * Starts the built binary like `pnpm bench:cri` does (tooling/conformance/servin-process.ts: oci backend,
 * CNI, the kit's registry) with its inspector on, runs --pods lifecycles one after the other (pod, started
 * `sleep` container, stop, remove) and every --every pods, after 3 s of quiet and a forced full GC, samples:
 * PSS (anonymous and file parts), V8 heap used and per space, process.memoryUsage() (external,
 * arrayBuffers), open fds, threads, libuv's active resources, and the anonymous mappings (glibc malloc
 * arenas are 64 MiB reservations). Prints one line per sample and writes bench/results/churn-growth-<tag>.json,
 * so a plateau (allocator high-water mark) tells itself apart from a linear leak.
 *
 * Run (root, kit up): node --import tsx bench/churn-growth.ts [--pods 2000] [--every 250] [--tag default]
 *   [--first 500]: no sample before that many pods (a first reading after a long uninterrupted churn);
 *   extra environment (MALLOC_ARENA_MAX=2 …) reaches servin unchanged.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchArg } from "../tooling/conformance/containerd-process.js";
import { kitUnavailable, kitUp, repo, ServinProcess } from "../tooling/conformance/servin-process.js";
import { heapAfterGc, InspectorClient, inspectorUrl } from "./lib/inspector.js";
import { podWithSleeper, removePod } from "./lib/memory-probe.js";
import { cpuNs, RawCriClient, STATUS_SCALE_IMAGE } from "./lib/status-scale.js";

const PODS = benchArg("pods", "BENCH_PODS", 2000);
const EVERY = benchArg("every", "BENCH_EVERY", 250);
/** No sample (no quiet, no forced GC) before this many pods: what a first reading after a long churn sees. */
const FIRST = benchArg("first", "BENCH_FIRST", 0);
const TAG = (() => {
  const i = process.argv.indexOf("--tag");
  return i > 0 ? (process.argv[i + 1] as string) : "default";
})();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").matchAll(/^(\w+):\s+(\d+) kB/gm))
    out[m[1] as string] = Number(m[2]) / 1024;
  return out;
}

/** A glibc per-thread arena's heap: a mapping starting on a 64 MiB boundary, at most 64 MiB long. */
function isArenaLike(start: bigint, size: bigint): boolean {
  return start % (64n << 20n) === 0n && size >= 128n << 10n && size <= 64n << 20n;
}

/**
 * servin's anonymous mappings, in one pass over smaps: how many there are and how many look like
 * malloc arenas, and their resident memory (`Anonymous:`, kB) by kind: glibc's main heap (`[heap]`,
 * brk), the main thread's `[stack]` (other threads' stacks carry no name since Linux 4.5 and count as
 * "other"), arena-like mappings, and the rest (V8's pages, mmap'd malloc chunks, node's own). Each
 * sample keeps every anonymous mapping's start and resident kB too, so two samples can be diffed.
 */
function anonMaps(pid: number): {
  anon: number;
  arenaLike: number;
  kinds: Record<string, number>;
  maps: Record<string, number>;
} {
  const kinds: Record<string, number> = { heap: 0, stack: 0, arena: 0, other: 0 };
  const maps: Record<string, number> = {};
  let anon = 0;
  let arenaLike = 0;
  let kind = "";
  let start = "";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      const [, a, b, inode, path] = head as unknown as [string, string, string, string, string];
      start = a;
      const from = BigInt(`0x${a}`);
      const size = BigInt(`0x${b}`) - from;
      if (path === "[heap]") kind = "heap";
      else if (path.startsWith("[stack")) kind = "stack";
      else if (inode !== "0" || path) kind = "";
      else if (isArenaLike(from, size)) kind = "arena";
      else kind = "other";
      if (inode === "0" && !path) {
        anon++;
        if (kind === "arena") arenaLike++;
      }
      continue;
    }
    const resident = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (resident && kind) {
      const kb = Number(resident[1]);
      kinds[kind] = (kinds[kind] ?? 0) + kb;
      if (kb) maps[`${kind}@${start}`] = kb;
    }
  }
  return { anon, arenaLike, kinds, maps };
}

/** servin's thread count. */
function threads(pid: number): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

const reason = kitUnavailable();
if (reason) {
  console.error(`churn-growth: ${reason}`);
  process.exit(1);
}
await kitUp();
process.env.SERVIN_NODE_ARGS = `${process.env.SERVIN_NODE_ARGS ?? ""} --inspect=127.0.0.1:0`.trim();
const servin = await ServinProcess.create("servin-churn-growth-");
await servin.start();
const pid = servin.child?.pid as number;
const url = inspectorUrl(servin.output);
if (!url) throw new Error(`servin printed no inspector url: ${servin.output.slice(-500)}`);
const inspector = await InspectorClient.connect(url);
const client = new RawCriClient(servin.socket);

async function evaluate<T>(expression: string): Promise<T | undefined> {
  const r = await inspector.send<{ result: { value?: T }; exceptionDetails?: unknown }>("Runtime.evaluate", {
    expression,
    returnByValue: true,
    awaitPromise: true,
  });
  return r.exceptionDetails ? undefined : r.result.value;
}

const samples: Array<Record<string, unknown>> = [];
async function sample(pods: number) {
  await sleep(3000);
  const heap = (await heapAfterGc(inspector)) / 2 ** 20;
  const mu = await evaluate<Record<string, number>>("process.memoryUsage()");
  const resources = await evaluate<string[]>("process.getActiveResourcesInfo()");
  const spaces = await evaluate<Array<{ space_name: string; space_size: number; space_used_size: number }>>(
    "process.getBuiltinModule('node:v8').getHeapSpaceStatistics()",
  );
  await sleep(500);
  const r = rollup(pid);
  const maps = anonMaps(pid);
  const counts: Record<string, number> = {};
  for (const x of resources ?? []) counts[x] = (counts[x] ?? 0) + 1;
  const s = {
    pods,
    pssMb: r.Pss,
    pssAnonMb: r.Pss_Anon,
    pssFileMb: r.Pss_File,
    rssMb: r.Rss,
    heapMb: heap,
    externalMb: (mu?.external ?? 0) / 2 ** 20,
    arrayBuffersMb: (mu?.arrayBuffers ?? 0) / 2 ** 20,
    heapTotalMb: (mu?.heapTotal ?? 0) / 2 ** 20,
    spacesMb: Object.fromEntries((spaces ?? []).map((x) => [x.space_name, x.space_used_size / 2 ** 20])),
    spacesCommittedMb: Object.fromEntries((spaces ?? []).map((x) => [x.space_name, x.space_size / 2 ** 20])),
    cpuSeconds: cpuNs(pid) / 1e9,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    threads: threads(pid),
    anon: maps.anon,
    arenaLike: maps.arenaLike,
    anonKbByKind: maps.kinds,
    anonKbByMapping: maps.maps,
    resources: counts,
  };
  samples.push(s);
  const f = (n: number) => n.toFixed(2);
  console.log(
    `${String(pods).padStart(5)} pods  PSS ${f(s.pssMb ?? 0)} (anon ${f(s.pssAnonMb ?? 0)}, file ${f(s.pssFileMb ?? 0)})  heap ${f(heap)} (committed ${f(s.heapTotalMb)}, new space ${f(s.spacesCommittedMb.new_space ?? Number.NaN)})  external ${f(s.externalMb)}  arrayBuffers ${f(s.arrayBuffersMb)}  code ${f(s.spacesMb.code_space ?? Number.NaN)}  cpu ${s.cpuSeconds.toFixed(1)} s  fds ${s.fds}  threads ${s.threads}  anon maps ${s.anon} (arena-like ${s.arenaLike})  anon kB by kind ${JSON.stringify(maps.kinds)}  resources ${JSON.stringify(counts)}`,
  );
}

const t0 = Date.now();
try {
  await client.call("PullImage", { image: { image: STATUS_SCALE_IMAGE } });
  await sample(0);
  for (let i = 0; i < PODS; i++) {
    const m = await podWithSleeper(client, "churn-growth", `churn-${i}`, `churn-growth-${i}-${process.pid}`);
    await removePod(client, m.pod);
    if (i + 1 >= FIRST && ((i + 1) % EVERY === 0 || i + 1 === 50)) await sample(i + 1);
  }
} finally {
  client.close();
  inspector.close();
  await servin.removeAllPods().catch(() => 0);
  await servin.stop();
  await servin.removeDir();
}
const out = join(repo, "bench/results", `churn-growth-${TAG}.json`);
writeFileSync(
  out,
  `${JSON.stringify({ pods: PODS, every: EVERY, env: { SERVIN_NODE_ARGS: process.env.SERVIN_NODE_ARGS ?? null, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? null, MALLOC_TRIM_THRESHOLD_: process.env.MALLOC_TRIM_THRESHOLD_ ?? null }, seconds: (Date.now() - t0) / 1000, samples }, null, 2)}\n`,
);
console.log(`written ${out}`);
