/**
 * Benchmark (not a test): PullImage of a large multi-layer image (bench/lib/big-image.ts: ~305 MiB,
 * 5 gzip layers, 227 MiB compressed) from the kit's local registry, `crictl pull` against the built
 * servin binary and against containerd 1.6 in the same run, `crictl rmi` before every pull (cold:
 * no blob or snapshot left), rounds in ABBA order; wall time per pull and each daemon's peak RSS
 * during its pulls (VmHWM, reset through /proc/PID/clear_refs before each pull), and the CPU time each
 * daemon spent on a pull (utime + stime; robust to load from other processes, unlike wall time).
 *
 * Run: node --import tsx bench/image-pull-large.ts [--rounds 3]   (root; BENCH_ROUNDS too)
 *      SERVIN_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile servin.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  benchArg,
  containerdUp,
  ctrdDir,
  ctrdPidFile,
  ctrdSocket,
  pidAlive,
  quantile,
  sideBySideSetUp,
  sideBySideTearDown,
} from "../tooling/conformance/containerd-process.js";
import { crictl, repo, ServinProcess } from "../tooling/conformance/servin-process.js";
import { ensureBigImage } from "./lib/big-image.js";

const ROUNDS = benchArg("rounds", "BENCH_ROUNDS", 3);

type Side = "servin" | "containerd";

function log(line: string): void {
  process.stderr.write(`bench:pull-large: ${line}\n`);
}

function status(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Blobs left in a content store directory (0 after a successful rmi: the next pull is cold). */
function countFiles(dir: string): number {
  return existsSync(dir) ? readdirSync(dir).length : 0;
}

/** Reads every blob of the image once through the registry, so neither side pays for a cold page cache. */
async function warmRegistry(ref: string): Promise<void> {
  const [host, rest] = [ref.slice(0, ref.indexOf("/")), ref.slice(ref.indexOf("/") + 1)];
  const [repoName, tag] = rest.split(":") as [string, string];
  const m = (await (
    await fetch(`http://${host}/v2/${repoName}/manifests/${tag}`, {
      headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
    })
  ).json()) as { layers: Array<{ digest: string }> };
  for (const l of m.layers) {
    const res = await fetch(`http://${host}/v2/${repoName}/blobs/${l.digest}`);
    for await (const _ of res.body!) {
      // drain
    }
  }
}

async function main(): Promise<number> {
  const setUp = await sideBySideSetUp(log);
  if ("code" in setUp) return setUp.code;
  const servin = await ServinProcess.create("servin-bench-pull-");
  const samples: Record<Side, { ms: number[]; peakRss: number[]; cpu: number[] }> = {
    servin: { ms: [], peakRss: [], cpu: [] },
    containerd: { ms: [], peakRss: [], cpu: [] },
  };
  const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  let code = 0;
  try {
    const t0 = Date.now();
    const ref = await ensureBigImage();
    log(`image ${ref} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await containerdUp(log);
    await servin.start();
    const sides: Record<Side, { socket: string; pid: () => number; blobs: string }> = {
      servin: {
        socket: servin.socket,
        pid: () => servin.child!.pid!,
        blobs: join(servin.dir, "root/images/blobs/sha256"),
      },
      containerd: {
        socket: ctrdSocket,
        pid: () => pidAlive(ctrdPidFile)!,
        blobs: join(ctrdDir, "root/io.containerd.content.v1.content/blobs/sha256"),
      },
    };
    await warmRegistry(ref);
    const loadBefore = load();
    const order: Side[] = [];
    for (let r = 0; r < ROUNDS; r++)
      order.push(...((r % 2 === 0 ? ["servin", "containerd"] : ["containerd", "servin"]) as Side[]));
    for (const side of order) {
      const s = sides[side];
      const c = crictl(s.socket);
      await c(["rmi", ref]);
      const before = countFiles(s.blobs);
      const pid = s.pid();
      writeFileSync(`/proc/${pid}/clear_refs`, "5"); // resets VmHWM to the current RSS
      const rssBefore = status(pid, "VmRSS");
      const cpuBefore = cpuSeconds(pid);
      const started = performance.now();
      const r = await c(["pull", ref], 10 * 60_000);
      const ms = performance.now() - started;
      if (r.code !== 0) throw new Error(`${side}: crictl pull failed: ${r.stderr}`);
      const peak = status(pid, "VmHWM");
      const cpu = cpuSeconds(pid) - cpuBefore;
      samples[side].cpu.push(cpu);
      samples[side].ms.push(ms);
      samples[side].peakRss.push(peak);
      log(
        `${side}: ${(ms / 1000).toFixed(2)} s (daemon CPU ${cpu.toFixed(2)} s), peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (${(rssBefore / 2 ** 20).toFixed(0)} before), ${before} blob(s) before the pull`,
      );
    }
    for (const side of ["servin", "containerd"] as Side[]) await crictl(sides[side].socket)(["rmi", ref]);
    const loadAfter = load();
    const fmt = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(", ");
    const sMed = quantile(samples.servin.ms, 0.5)!;
    const cMed = quantile(samples.containerd.ms, 0.5)!;
    const mib = (xs: number[]) => `${(Math.max(...xs) / 2 ** 20).toFixed(0)} MiB`;
    const cpuMed = (side: Side) => quantile(samples[side].cpu, 0.5)!;
    const table = [
      "| side | wall per pull (s) | median s | ratio | daemon CPU median s | CPU ratio | peak RSS (max) |",
      "| ---- | ----------------- | -------: | ----: | ------------------: | --------: | -------------: |",
      `| servin | ${fmt(samples.servin.ms)} | ${(sMed / 1000).toFixed(2)} | ${(sMed / cMed).toFixed(2)}× | ${cpuMed("servin").toFixed(2)} | ${(cpuMed("servin") / cpuMed("containerd")).toFixed(2)}× | ${mib(samples.servin.peakRss)} |`,
      `| containerd | ${fmt(samples.containerd.ms)} | ${(cMed / 1000).toFixed(2)} | 1.00× | ${cpuMed("containerd").toFixed(2)} | 1.00× | ${mib(samples.containerd.peakRss)} |`,
    ].join("\n");
    const note = `${new Date().toISOString().slice(0, 10)}, ${ROUNDS} round(s) per side (ABBA), load average ${loadBefore} before, ${loadAfter} after`;
    process.stdout.write(`${table}\n\n${note}\n`);
    const out = join(repo, "bench/results");
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, "image-pull-large.json"),
      `${JSON.stringify({ date: new Date().toISOString(), ref, rounds: ROUNDS, order, samples, loadavg: { before: loadBefore, after: loadAfter } }, null, 2)}\n`,
    );
  } catch (err) {
    log(`failed: ${(err as Error).message}`);
    code = 1;
  } finally {
    await sideBySideTearDown(servin, setUp, log);
  }
  return code;
}

process.exitCode = await main();
