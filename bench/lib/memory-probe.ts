/**
 * Memory of a CRI runtime for `pnpm bench:cri` (issue #13), the kit's memory.sh method done through the
 * bench's own gRPC client (bench/lib/status-scale.ts) so that it can tell which processes a pod added:
 * - idle: the daemon's PSS (smaps_rollup) with the busybox image pulled and no pod;
 * - per pod: PODS pods with one busybox `sleep` container each; the PSS of the per-pod processes
 *   (monitors, shims, infra) divided by the pod count. Which processes those are is not guessed from
 *   names: a process counts when its command line or its cgroup names one of the pods or containers
 *   made here, and it is not the container's own workload (`sleep 3600`); their names are reported.
 *   The daemon's own growth per pod is reported next to it.
 * - churn: a warm-up of WARMUP pods, then CHURN more (pod + started container + stop + remove, one after
 *   the other); the daemon's PSS and, for a Node daemon reachable through its inspector, its V8 heap after
 *   a forced full GC, measured after the warm-up (lazy loading, JIT, allocator high-water marks), every
 *   tenth of the churn and at the end: the growth is end minus after-warm-up, with the slope beside it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { heapAfterGc, type InspectorClient } from "./inspector.js";
import { pssKb, RawCriClient, STATUS_SCALE_IMAGE } from "./status-scale.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PerPodMemory {
  side: string;
  idlePssMb: number;
  /** The anonymous part of idle PSS (heap, stacks): the daemon's own, unlike its shared file pages. */
  idleAnonMb: number;
  busyPssMb: number;
  pods: number;
  /** Per-pod processes' PSS ÷ pods (memory.sh's figure). */
  perPodPssMb: number;
  /** The daemon's PSS growth ÷ pods. */
  daemonPerPodMb: number;
  /** What was counted as per-pod: process name → count. */
  processes: Record<string, number>;
}

export interface ChurnMemory {
  side: string;
  /** Pods churned after the warm-up: the growth is measured over these. */
  pods: number;
  /**
   * Pods churned before, unmeasured: the allocator's and V8's high-water marks are reached there, under
   * the same readings (quiet period, forced GC) as the measured churn.
   */
  warmup: number;
  pssMb: { start: number; afterWarmup: number; end: number };
  /**
   * The anonymous part of that PSS (heap, stacks, malloc): the daemon's own memory. The rest is file
   * pages (node's binary) whose share moves by MBs when other node processes start or end.
   */
  anonMb: { start: number; afterWarmup: number; end: number };
  /** V8 heap used after a full GC (only for a daemon with an inspector). */
  heapMb?: { afterWarmup: number; end: number };
  /** Settled readings every tenth of the measured churn (pods counted from the start, warm-up included). */
  samples: Array<{ pods: number; pssMb: number; anonMb: number; heapMb?: number }>;
  /** The warm-up's own settled readings, counted back from its end (not part of the growth or the slope). */
  warmupSamples: Array<{ pods: number; pssMb: number; anonMb: number; heapMb?: number }>;
  /** Least-squares slope of PSS over the measured samples, per 1,000 pods: ≈ 0 on a plateau. */
  pssSlopeMbPer1000: number;
  /** The same for the anonymous part. */
  anonSlopeMbPer1000: number;
  seconds: number;
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

function podConfig(ns: string, name: string, uid: string) {
  return { metadata: { name, namespace: ns, uid, attempt: 0 }, hostname: name, logDirectory: "", linux: {} };
}

export async function podWithSleeper(
  client: RawCriClient,
  ns: string,
  name: string,
  uid: string,
): Promise<{ pod: string; container: string }> {
  const config = podConfig(ns, name, uid);
  const { podSandboxId } = await client.call<{ podSandboxId: string }>("RunPodSandbox", { config });
  const { containerId } = await client.call<{ containerId: string }>("CreateContainer", {
    podSandboxId,
    config: {
      metadata: { name: "m", attempt: 0 },
      image: { image: STATUS_SCALE_IMAGE },
      command: ["sleep", "3600"],
      linux: {},
    },
    sandboxConfig: config,
  });
  await client.call("StartContainer", { containerId });
  return { pod: podSandboxId, container: containerId };
}

export async function removePod(client: RawCriClient, pod: string): Promise<void> {
  await client.call("StopPodSandbox", { podSandboxId: pod });
  await client.call("RemovePodSandbox", { podSandboxId: pod });
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The processes (other than `exclude`) whose command line or cgroup names one of `ids`, workloads left out. */
function processesOf(ids: string[], exclude: number[]): Array<{ pid: number; name: string }> {
  const out: Array<{ pid: number; name: string }> = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid || exclude.includes(pid)) continue;
    const cmd = read(`/proc/${pid}/cmdline`).replace(/\0/g, " ").trim();
    if (!cmd || /^(\/bin\/)?sleep 3600$/.test(cmd)) continue;
    const where = `${cmd}\n${read(`/proc/${pid}/cgroup`)}`;
    if (ids.some((id) => where.includes(id)))
      out.push({ pid, name: read(`/proc/${pid}/comm`).trim() || cmd.split(" ")[0] || "?" });
  }
  return out;
}

/**
 * Daemon PSS idle and with `pods` one-container pods, and the per-pod processes' PSS; removes its pods.
 *
 * @example
 * const m = await perPodMemory({ name: "servin", socket, pid }, 10);
 */
export async function perPodMemory(
  side: { name: string; socket: string; pid: number },
  pods: number,
  ns = "bench-memory",
): Promise<PerPodMemory> {
  const client = new RawCriClient(side.socket);
  const made: Array<{ pod: string; container: string }> = [];
  try {
    await client.call("PullImage", { image: { image: STATUS_SCALE_IMAGE } });
    await sleep(1000);
    const idle = pssKb(side.pid);
    const idleAnon = pssKb(side.pid, "Pss_Anon");
    for (let i = 0; i < pods; i++)
      made.push(await podWithSleeper(client, ns, `mem-${i}`, `mem-${side.name}-${i}-${process.pid}`));
    await sleep(2000);
    const busy = pssKb(side.pid);
    const procs = processesOf(
      made.flatMap((m) => [m.pod, m.container]),
      [side.pid],
    );
    const kb = procs.reduce((s, p) => s + pssKb(p.pid), 0);
    const processes: Record<string, number> = {};
    for (const p of procs) processes[p.name] = (processes[p.name] ?? 0) + 1;
    return {
      side: side.name,
      idlePssMb: idle / 1024,
      idleAnonMb: idleAnon / 1024,
      busyPssMb: busy / 1024,
      pods,
      perPodPssMb: kb / 1024 / pods,
      daemonPerPodMb: (busy - idle) / 1024 / pods,
      processes,
    };
  } finally {
    for (const m of made) await removePod(client, m.pod).catch(() => undefined);
    client.close();
  }
}

/**
 * `warmup` pod lifecycles one after the other (pod, started `sleep` container, stop, remove), then `pods`
 * more: the daemon's PSS (and heap after GC when `inspector` is given) after the warm-up, every tenth of
 * the measured churn and at the end. The warm-up is not part of `pods`: servin's PSS keeps rising for the
 * first few hundred lifecycles (V8 code and old space filling, glibc's arenas reaching their high-water
 * mark) and then lies flat, so growth measured from after 50 pods reads that rise as a leak
 * (bench/churn-growth.ts samples it).
 *
 * The warm-up takes settled readings too, the last one a tenth of `pods` before its end, so the reading
 * after the warm-up is made like every later one: after `every` lifecycles since the last quiet period
 * and forced GC (the earlier ones every 100 lifecycles or more). Without them the first reading follows
 * 500 lifecycles with neither, and on servin it is the run's low point: glibc's per-thread arenas (V8's
 * worker threads) rise by ~1.6 MB in the 100 lifecycles after that first forced GC and stay there
 * (bench/churn-growth.ts `--first 500`), a step the reading itself set off, read as growth across the
 * churn.
 */
export async function churnMemory(
  side: { name: string; socket: string; pid: number },
  pods: number,
  opts: { inspector?: InspectorClient; warmup?: number; ns?: string; log?: (line: string) => void } = {},
): Promise<ChurnMemory> {
  const ns = opts.ns ?? "bench-churn";
  const warmup = opts.warmup ?? 500;
  const client = new RawCriClient(side.socket);
  const t0 = Date.now();
  // A settled reading: background cleanup done, then (with an inspector) a full GC.
  const settle = async () => {
    await sleep(3000);
    const heap = opts.inspector ? await heapAfterGc(opts.inspector) : undefined;
    await sleep(500);
    return {
      pss: pssKb(side.pid) / 1024,
      anon: pssKb(side.pid, "Pss_Anon") / 1024,
      heap: heap === undefined ? undefined : heap / 2 ** 20,
    };
  };
  type Reading = Awaited<ReturnType<typeof settle>>;
  const sampleOf = (pods: number, r: Reading): ChurnMemory["samples"][number] => ({
    pods,
    pssMb: r.pss,
    anonMb: r.anon,
    ...(r.heap !== undefined ? { heapMb: r.heap } : {}),
  });
  try {
    await client.call("PullImage", { image: { image: STATUS_SCALE_IMAGE } });
    const start = await settle();
    const total = warmup + pods;
    const every = Math.max(1, Math.floor(pods / 10));
    // The warm-up's readings, counted back from its end: the last one `every` lifecycles before it, like
    // the churn's; the earlier ones at least 100 apart, so that a short churn (small `every`) does not
    // make a 500-pod warm-up take hundreds of quiet periods.
    const warmupStep = Math.max(every, 100);
    const warmupReading = (done: number) =>
      done < warmup && (warmup - done === every || (warmup - done) % warmupStep === 0);
    const samples: ChurnMemory["samples"] = [];
    const warmupSamples: ChurnMemory["samples"] = [];
    let afterWarmup = start;
    if (warmup === 0) samples.push(sampleOf(0, start));
    for (let i = 0; i < total; i++) {
      const m = await podWithSleeper(client, ns, `churn-${i}`, `churn-${side.name}-${i}-${process.pid}`);
      await removePod(client, m.pod);
      const done = i + 1;
      if (warmupReading(done)) {
        warmupSamples.push(sampleOf(done, await settle()));
      } else if (done === warmup || (done > warmup && ((done - warmup) % every === 0 || done === total))) {
        const r = await settle();
        if (done === warmup) afterWarmup = r;
        samples.push(sampleOf(done, r));
      }
      if (done % 100 === 0)
        opts.log?.(`${side.name}: churn ${done}/${total}, PSS ${(pssKb(side.pid) / 1024).toFixed(1)} MB`);
    }
    const last = samples.at(-1);
    const endReading = last ? { pss: last.pssMb, anon: last.anonMb, heap: last.heapMb } : start;
    return {
      side: side.name,
      pods,
      warmup,
      pssMb: { start: start.pss, afterWarmup: afterWarmup.pss, end: endReading.pss },
      anonMb: { start: start.anon, afterWarmup: afterWarmup.anon, end: endReading.anon },
      ...(afterWarmup.heap !== undefined && endReading.heap !== undefined
        ? { heapMb: { afterWarmup: afterWarmup.heap, end: endReading.heap } }
        : {}),
      samples,
      warmupSamples,
      pssSlopeMbPer1000: slope(samples.map((x) => [x.pods, x.pssMb])) * 1000,
      anonSlopeMbPer1000: slope(samples.map((x) => [x.pods, x.anonMb])) * 1000,
      seconds: (Date.now() - t0) / 1000,
    };
  } finally {
    client.close();
  }
}
