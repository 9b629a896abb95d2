/**
 * Status and list calls with many containers present, and daemon memory, side by side (issue #13):
 * the same Node HTTP/2 gRPC client (one persistent connection per daemon, `:authority localhost`,
 * protobuf through cri-grpc's own service definitions) drives servin and containerd, creates
 * PODS × CONTAINERS busybox `sleep` containers on each, then times ContainerStatus, PodSandboxStatus,
 * ListContainers, ListPodSandbox, ImageStatus and ListImages call by call, the sides taking turns,
 * and reads each daemon's PSS (smaps_rollup) idle and with the containers, and the per-pod processes'.
 * Exported for `pnpm bench:cri`; `bench/cri-calls.ts` runs it alone.
 */
import { readdirSync, readFileSync } from "node:fs";
import { type ClientHttp2Session, connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { getHeapSpaceStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { criServiceDefinitions } from "../../packages/cri-grpc/src/proto.js";
import type { FloorResponder } from "./floor-responder.js";

export const STATUS_SCALE_IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2";

/** One daemon under test: its CRI socket, its pid (for PSS) and what its per-pod processes look like. */
export interface ScaleSide {
  name: string;
  socket: string;
  pid: number;
  /** `pgrep -f` pattern of the per-pod processes (monitors, shims, infra). */
  perPodPattern: RegExp;
}

/** A floor responder as `measureStatusScale` takes it. */
type ScaleFloor = Pick<FloorResponder, "socket" | "pid">;

export interface ScaleOptions {
  pods: number;
  containersPerPod: number;
  /** Timed calls per operation per side. */
  calls: number;
  /**
   * How long both daemons sit after the image pull before their idle PSS is read (default 1 s, as the
   * kit's memory.sh): V8's memory reducer releases young-generation space only after ~10 s of quiet.
   */
  idleSettleMs?: number;
  /** Pod namespace (every pod made here is removed at the end). */
  namespace?: string;
  /**
   * The floor responder (`floor-responder.ts`): one more participant in each operation's rotation, called
   * the same way, its answer as large as the smaller of the daemons' latest. Its rows have side "floor".
   */
  floor?: ScaleFloor;
  /** Untimed calls per operation and participant before the timed ones (default `WARM_CALLS`). */
  warmCalls?: number;
  /** Keep every timed call's latency, in call order, in each row's `series`: where in the window a tail lies. */
  keepSeries?: boolean;
  log?: (line: string) => void;
}

export interface ScaleRow {
  op: string;
  side: string;
  n: number;
  p50: number;
  p99: number;
  /** The tail in more detail (results JSON only): where one side's tail starts to part from the other's. */
  tail: { p90: number; p95: number; p98: number; p995: number; p999: number; max: number };
  /** When the timed calls of this operation began and ended (epoch ms), to line up with a daemon's own log. */
  window: { start: number; end: number };
  /**
   * The daemon's CPU time per call (all its threads, from /proc/PID/task/∗/schedstat): unlike the
   * latency, this does not depend on what else the two cores are doing.
   */
  cpuUs: number;
  /** With `keepSeries`: each timed call's latency (ms), in the order the calls were made. */
  series?: number[];
}

export interface ScaleMemory {
  side: string;
  idlePssMb: number;
  /**
   * The anonymous part of idle PSS (heap, stacks): unlike the file-backed part (the binary's code, shared
   * with every other process running it, so it shrinks as more node processes run), it is the daemon's own.
   */
  idleAnonMb: number;
  busyPssMb: number;
  perPodPssMb: number;
  pods: number;
}

export interface ScaleResult {
  rows: ScaleRow[];
  memory: ScaleMemory[];
  /** Each side's tear-down, pod by pod (StopPodSandbox, then RemovePodSandbox): with all its containers. */
  teardown: ScaleTeardown[];
}

/** One side's tear-down of what it made: per pod, in order, the ms each call took. */
export interface ScaleTeardown {
  side: string;
  containersPerPod: number;
  stopMs: number[];
  removeMs: number[];
}

const defs = criServiceDefinitions("v1");
/** What the client needs of a grpc-js method definition (grpc-js is cri-grpc's dependency, not bench's). */
interface Def {
  path: string;
  requestSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}
function method(name: string): Def {
  const d = (defs.RuntimeService[name] ?? defs.ImageService[name]) as Def | undefined;
  if (!d) throw new Error(`no CRI method ${name}`);
  return d;
}

/** A gRPC message frame (not compressed) around `body`. */
function grpcFrame(body: Buffer): Buffer {
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  return frame;
}

/** A unary gRPC client over one persistent HTTP/2 connection, gRPC framing by hand. */
export class RawCriClient {
  private readonly session: ClientHttp2Session;
  constructor(socket: string) {
    this.session = connect("http://localhost", { createConnection: () => netConnect(socket) });
    this.session.on("error", () => undefined);
  }

  /** One call, its answer decoded (setting up, tearing down; not timed). */
  call<T = Record<string, unknown>>(name: string, req: unknown, timeoutMs = 120_000): Promise<T> {
    const def = method(name);
    return this.exchange(name, def.path, grpcFrame(def.requestSerialize(req)), timeoutMs).then(
      ({ message }) => def.responseDeserialize(message as Buffer) as T,
    );
  }

  /**
   * One timed call, with `ms`: from just before the request is handed to the session until the
   * answer's stream closed (trailers read). The answer is not decoded, only its message's size
   * (`bytes`) counted: the decode is the client's own CPU (protobufjs here), and its allocation makes
   * this process collect garbage at random moments; neither is the daemon's latency, and answers of
   * different sizes would pay it unevenly.
   */
  timedAnswer(name: string, req: unknown, timeoutMs = 120_000): Promise<{ ms: number; bytes: number }> {
    const def = method(name);
    return this.exchange(name, def.path, grpcFrame(def.requestSerialize(req)), timeoutMs, false).then(
      ({ bytes, ms }) => ({ ms, bytes }),
    );
  }

  /**
   * One call to the floor responder (`floor-responder.ts`), timed as `timedAnswer` times a daemon's: its
   * answer's message is `size` bytes, and is not decoded.
   */
  timedFloor(size: number): Promise<{ ms: number }> {
    const req = Buffer.alloc(4);
    req.writeUInt32BE(size);
    return this.exchange("floor", "/bench.Floor/Answer", grpcFrame(req), 120_000, false).then(({ ms }) => ({
      ms,
    }));
  }

  /**
   * One request and its answer: the message (without its gRPC prefix) when `keep`, else only its size
   * (the timed loops: nothing of a large answer is held or copied, fewer bytes for the client's
   * collector).
   */
  private exchange(
    name: string,
    path: string,
    frame: Buffer,
    timeoutMs: number,
    keep = true,
  ): Promise<{ message: Buffer | undefined; bytes: number; ms: number }> {
    return new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const stream = this.session.request({
        ":method": "POST",
        ":path": path,
        ":authority": "localhost",
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${timeoutMs}m`,
      });
      const chunks: Buffer[] = [];
      let received = 0;
      let status: string | undefined;
      let message = "";
      const take = (h: Record<string, unknown>) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      stream.on("response", take);
      stream.on("trailers", take);
      stream.on("data", (c: Buffer) => {
        received += c.length;
        if (keep) chunks.push(c);
      });
      stream.on("error", reject);
      stream.on("close", () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (status !== "0") return reject(new Error(`${name}: grpc-status ${status} ${message}`));
        const bytes = Math.max(0, received - 5);
        resolve({ message: keep ? Buffer.concat(chunks).subarray(5) : undefined, bytes, ms });
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}

/** PSS in kB of a process (smaps_rollup), 0 if it is gone; `field` "Pss_Anon" for its private memory only. */
export function pssKb(pid: number, field: "Pss" | "Pss_Anon" = "Pss"): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Summed PSS in kB of the processes whose command line matches `re`. */
export function pssOfMatching(re: RegExp): number {
  let kb = 0;
  for (const entry of readdirPids()) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      continue;
    }
    if (re.test(cmd)) kb += pssKb(entry);
  }
  return kb;
}

/** Nanoseconds all threads of `pid` have spent on a CPU (schedstat's first field, summed over tasks). */
export function cpuNs(pid: number): number {
  let ns = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const t of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns;
}

function readdirPids(): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => p !== process.pid);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Untimed calls per operation and participant before the timed ones. Three Node processes take part (the
 * client, servin, the floor responder), and each one's JIT compiles the call's path over its first few
 * thousand calls: with `--trace-opt`, 90 of servin's functions were optimized between the 1 500th and the
 * 4 500th ContainerStatus of a fresh connection, 4 in the next 3 000. With 1 000 warm-up calls (until
 * 2026-12-01) the first operation's window held that: in its first 1 000 timed calls the p99 was 4.35 /
 * 2.70 / 3.57 ms (servin / containerd / floor) against 0.80–1.43 / 0.87–2.09 / 0.53–1.62 in each later
 * thousand, and 15 s more of quiet after the 200 containers were made changed nothing (3.73 / 2.14 / 2.40),
 * so it was the calls, not the time. With 5 000, that first thousand was 1.28 / 1.38 / 1.54, like the rest.
 */
export const WARM_CALLS = 5000;

type Gc = (options?: { type?: "minor" | "major"; execution?: "sync" }) => void;
let clientGc: Gc | undefined;
/** This process's own collector (V8's `gc`, exposed at run time). */
function collectClientGarbage(type: "minor" | "major"): void {
  if (!clientGc) {
    setFlagsFromString("--expose-gc");
    clientGc = runInNewContext("gc") as Gc;
  }
  clientGc({ type, execution: "sync" });
}

/**
 * Before a timed call: once the client's young generation is more than half full, it is emptied here,
 * outside any window (a scavenge the client would soon make anyway, inside one), and the event loop
 * turns once. The timed calls do not decode their answers, so it fills slowly. Emptying it before
 * every call, as this bench did until 2026-11-30, made every call slower and the tails longer, on both
 * daemons and on the floor alike: with 341-byte answers the floor's p50 was 0.17–0.18 ms instead of
 * 0.07–0.08 and its p99 1.1–1.7 ms instead of 0.35–0.47 (a forced scavenge wakes V8's helper threads,
 * which then share the 2 cores with the call).
 */
async function settleClientHeap(): Promise<void> {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  if (!young || young.space_used_size <= young.space_available_size) return;
  collectClientGarbage("minor");
  await new Promise((resolve) => setImmediate(resolve));
}

/** The p-quantile of samples sorted in ascending order. */
function q(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
}

interface Made {
  pods: string[];
  containers: string[];
}

async function populate(client: RawCriClient, opts: ScaleOptions, side: string): Promise<Made> {
  const ns = opts.namespace ?? "bench-status";
  const made: Made = { pods: [], containers: [] };
  for (let p = 0; p < opts.pods; p++) {
    const podConfig = {
      metadata: { name: `scale-${p}`, namespace: ns, uid: `scale-${side}-${p}-${process.pid}`, attempt: 0 },
      hostname: `scale-${p}`,
      logDirectory: "",
      linux: {},
    };
    const { podSandboxId } = await client.call<{ podSandboxId: string }>("RunPodSandbox", {
      config: podConfig,
    });
    made.pods.push(podSandboxId);
    for (let c = 0; c < opts.containersPerPod; c++) {
      const { containerId } = await client.call<{ containerId: string }>("CreateContainer", {
        podSandboxId,
        config: {
          metadata: { name: `c${c}`, attempt: 0 },
          image: { image: STATUS_SCALE_IMAGE },
          command: ["sleep", "3600"],
          labels: { bench: "status-scale", index: String(c) },
          linux: {},
        },
        sandboxConfig: podConfig,
      });
      await client.call("StartContainer", { containerId });
      made.containers.push(containerId);
    }
  }
  return made;
}

/** Stops and removes every pod made (and so their containers); times each call that succeeded. */
async function teardown(client: RawCriClient, made: Made): Promise<{ stopMs: number[]; removeMs: number[] }> {
  const stopMs: number[] = [];
  const removeMs: number[] = [];
  const timed = async (into: number[], name: string, req: unknown) => {
    const t0 = process.hrtime.bigint();
    const ok = await client.call(name, req).then(
      () => true,
      () => false,
    );
    if (ok) into.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  for (const pod of made.pods) {
    await timed(stopMs, "StopPodSandbox", { podSandboxId: pod });
    await timed(removeMs, "RemovePodSandbox", { podSandboxId: pod });
  }
  made.pods = [];
  made.containers = [];
  return { stopMs, removeMs };
}

/**
 * Populates both sides, times the calls interleaved, measures memory, and removes what it made.
 *
 * @example
 * const { rows, memory } = await measureStatusScale([servinSide, containerdSide], { pods: 20, containersPerPod: 10, calls: 500 });
 */
export async function measureStatusScale(sides: ScaleSide[], opts: ScaleOptions): Promise<ScaleResult> {
  const log = opts.log ?? (() => undefined);
  const clients = sides.map((s) => new RawCriClient(s.socket));
  const floorClient = opts.floor ? new RawCriClient(opts.floor.socket) : undefined;
  const made: Made[] = sides.map(() => ({ pods: [], containers: [] }));
  const memory: ScaleMemory[] = [];
  try {
    for (const c of clients) await c.call("PullImage", { image: { image: STATUS_SCALE_IMAGE } });
    await sleep(opts.idleSettleMs ?? 1000);
    const idle = sides.map((s) => pssKb(s.pid));
    const idleAnon = sides.map((s) => pssKb(s.pid, "Pss_Anon"));
    const basePerPod = sides.map((s) => pssOfMatching(s.perPodPattern));
    for (const [i, s] of sides.entries()) {
      const t0 = Date.now();
      made[i] = await populate(clients[i] as RawCriClient, opts, s.name);
      log(`${s.name}: ${opts.pods} pods × ${opts.containersPerPod} containers in ${Date.now() - t0} ms`);
    }
    await sleep(2000);
    for (const [i, s] of sides.entries()) {
      const busy = pssKb(s.pid);
      const perPod = pssOfMatching(s.perPodPattern) - (basePerPod[i] as number);
      memory.push({
        side: s.name,
        idlePssMb: (idle[i] as number) / 1024,
        idleAnonMb: (idleAnon[i] as number) / 1024,
        busyPssMb: busy / 1024,
        // The per-pod processes plus the daemon's growth, per pod.
        perPodPssMb: (perPod + busy - (idle[i] as number)) / 1024 / opts.pods,
        pods: opts.pods,
      });
    }
    const ops: Array<[string, (i: number, k: number) => [string, unknown]]> = [
      ["ContainerStatus", (i, k) => ["ContainerStatus", { containerId: pick(made[i]?.containers, k) }]],
      ["PodSandboxStatus", (i, k) => ["PodSandboxStatus", { podSandboxId: pick(made[i]?.pods, k) }]],
      ["ListContainers", () => ["ListContainers", { filter: {} }]],
      ["ListPodSandbox", () => ["ListPodSandbox", { filter: {} }]],
      ["ImageStatus", () => ["ImageStatus", { image: { image: STATUS_SCALE_IMAGE } }]],
      ["ListImages", () => ["ListImages", { filter: {} }]],
    ];
    const rows: ScaleRow[] = [];
    for (const [op, build] of ops) {
      // The floor takes its turn in the same rotation as the daemons, after whichever side answered last:
      // the same moments of the host, the same cold caches. Timed on its own after the sides (as until
      // 2026-11-30), its p50 was 0.02 ms lower and its p99 belonged to another stretch of time.
      const parts = sides.length + (floorClient ? 1 : 0);
      const samples = Array.from({ length: parts }, () => [] as number[]);
      const cpu = Array.from({ length: parts }, () => 0);
      // Each side's latest answer size: the floor answers with the smaller, a floor for both daemons.
      const lastBytes = sides.map(() => Number.POSITIVE_INFINITY);
      // Steady state, not start-up (see WARM_CALLS): containerd's Go is compiled ahead of time.
      const warm = opts.warmCalls ?? WARM_CALLS;
      collectClientGarbage("major");
      let windowStart = Date.now();
      for (let k = -warm; k < opts.calls; k++) {
        if (k === 0) windowStart = Date.now();
        for (let j = 0; j < parts; j++) {
          const i = (k + j + warm) % parts;
          const side = sides[i];
          const pid = side ? side.pid : (opts.floor as ScaleFloor).pid;
          await settleClientHeap();
          const c0 = k >= 0 ? cpuNs(pid) : 0;
          let ms: number;
          if (side) {
            const [name, req] = build(i, k + warm);
            let bytes: number;
            ({ ms, bytes } = await (clients[i] as RawCriClient).timedAnswer(name, req));
            lastBytes[i] = bytes;
          } else {
            // A side always takes the first turn, so at least one size is known.
            ({ ms } = await (floorClient as RawCriClient).timedFloor(Math.min(...lastBytes)));
          }
          if (k >= 0) {
            (samples[i] as number[]).push(ms);
            cpu[i] = (cpu[i] as number) + cpuNs(pid) - c0;
          }
        }
      }
      const window = { start: windowStart, end: Date.now() };
      for (let i = 0; i < parts; i++) {
        const r = row(op, sides[i]?.name ?? "floor", samples[i] as number[], cpu[i] as number, window);
        if (opts.keepSeries) r.series = samples[i];
        rows.push(r);
      }
    }
    // The tear-down, timed: a pod's removal takes its 10 containers with it.
    const removal: ScaleTeardown[] = [];
    for (const [i, s] of sides.entries())
      removal.push({
        side: s.name,
        containersPerPod: opts.containersPerPod,
        ...(await teardown(clients[i] as RawCriClient, made[i] as Made)),
      });
    return { rows, memory, teardown: removal };
  } finally {
    // After a failure: whatever is left (a timed tear-down left nothing).
    for (const [i, c] of clients.entries()) {
      await teardown(c, made[i] as Made);
      c.close();
    }
    floorClient?.close();
  }
}

/** One operation's row from its samples (ms, any order) and the CPU its side spent on them (ns). */
function row(
  op: string,
  side: string,
  samples: number[],
  cpuNsTotal: number,
  window: ScaleRow["window"],
): ScaleRow {
  const xs = [...samples].sort((a, b) => a - b);
  return {
    op,
    side,
    n: xs.length,
    p50: q(xs, 0.5),
    p99: q(xs, 0.99),
    tail: {
      p90: q(xs, 0.9),
      p95: q(xs, 0.95),
      p98: q(xs, 0.98),
      p995: q(xs, 0.995),
      p999: q(xs, 0.999),
      max: q(xs, 1),
    },
    window,
    cpuUs: cpuNsTotal / 1000 / Math.max(1, xs.length),
  };
}

function pick(xs: string[] | undefined, k: number): string {
  if (!xs || xs.length === 0) throw new Error("nothing was created");
  // A stride coprime with the count walks every object, not the same few.
  return xs[(k * 7) % xs.length] as string;
}

/**
 * The rows as a markdown table, servin ÷ containerd per operation; with floor rows, the floor's p50
 * and p99 and each side's p50 above the floor's (a quantile of a difference is not the difference of
 * quantiles, so no p99 above the floor).
 */
export function scaleTable(result: ScaleResult, a = "servin", b = "containerd"): string {
  const floor = result.rows.some((r) => r.side === "floor");
  const lines = [
    `| call (ms, 200 containers) | ${a} p50 | ${a} p99 | ${b} p50 | ${b} p99 | ratio p50 | ratio p99 | daemon CPU µs per call, ${a} / ${b} |${floor ? ` floor p50 / p99 | p50 above the floor, ${a} / ${b} |` : ""}`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${floor ? " ---: | ---: |" : ""}`,
  ];
  const ops = [...new Set(result.rows.map((r) => r.op))];
  for (const op of ops) {
    const x = result.rows.find((r) => r.op === op && r.side === a);
    const y = result.rows.find((r) => r.op === op && r.side === b);
    if (!x || !y) continue;
    const f = result.rows.find((r) => r.op === op && r.side === "floor");
    const floorCells = f
      ? ` ${f.p50.toFixed(3)} / ${f.p99.toFixed(3)} | ${(x.p50 - f.p50).toFixed(3)} / ${(y.p50 - f.p50).toFixed(3)} |`
      : floor
        ? " – | – |"
        : "";
    lines.push(
      `| ${op} | ${x.p50.toFixed(3)} | ${x.p99.toFixed(3)} | ${y.p50.toFixed(3)} | ${y.p99.toFixed(3)} | ${(x.p50 / y.p50).toFixed(2)}× | ${(x.p99 / y.p99).toFixed(2)}× | ${x.cpuUs.toFixed(0)} / ${y.cpuUs.toFixed(0)} |${floorCells}`,
    );
  }
  const x = result.teardown.find((t) => t.side === a);
  const y = result.teardown.find((t) => t.side === b);
  if (x && y) {
    lines.push(
      "",
      `| tear-down, per pod of ${x.containersPerPod} containers (ms) | ${a} p50 | ${a} max | ${b} p50 | ${b} max | ratio p50 |`,
      "| --- | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const [name, key] of [
      ["StopPodSandbox", "stopMs"],
      ["RemovePodSandbox", "removeMs"],
    ] as const) {
      const xs = [...x[key]].sort((m, n) => m - n);
      const ys = [...y[key]].sort((m, n) => m - n);
      lines.push(
        `| ${name} | ${q(xs, 0.5).toFixed(1)} | ${q(xs, 1).toFixed(1)} | ${q(ys, 0.5).toFixed(1)} | ${q(ys, 1).toFixed(1)} | ${(q(xs, 0.5) / q(ys, 0.5)).toFixed(2)}× |`,
      );
    }
  }
  lines.push(
    "",
    "| memory (MB PSS) | idle | idle, anonymous | with pods | per pod (its containers' monitors + infra + daemon growth) |",
    "| --- | ---: | ---: | ---: | ---: |",
  );
  for (const m of result.memory)
    lines.push(
      `| ${m.side} | ${m.idlePssMb.toFixed(1)} | ${m.idleAnonMb.toFixed(1)} | ${m.busyPssMb.toFixed(1)} (${m.pods} pods) | ${m.perPodPssMb.toFixed(2)} |`,
    );
  return lines.join("\n");
}
