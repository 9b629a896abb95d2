/**
 * Benchmark: pull + unpack of a ~50 MB multi-layer image from a local
 * registry, servin (disk backend) side by side with `skopeo copy` to an OCI
 * dir + `umoci unpack`, several cold rounds; medians, the ratio, and the peak
 * RSS of servin's pull (run in a child process, read from its VmHWM).
 *
 *   node --conditions=source --import tsx bench/image-pull.ts [--rounds 5] [--cpu-prof]
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createDiskImageBackend, createImageService } from "../packages/image-store/src/index.js";
import { OciLayout, pushLayout, startRegistry, type TarSpec } from "../tooling/testkit/src/index.js";

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));

// ---- child mode: one cold pull, then report timings and memory ----
if (process.argv[2] === "--child") {
  const [root, ref] = process.argv.slice(3);
  const t0 = performance.now();
  const s = await createImageService({ backend: await createDiskImageBackend({ root: root! }) });
  // "--child ROOT -" measures the baseline: the same process without a pull.
  if (ref !== "-") await s.pullImage({ image: { image: ref! } });
  const ms = performance.now() - t0;
  await s.close();
  const status = await readFile("/proc/self/status", "utf8");
  const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  process.stdout.write(JSON.stringify({ ms, hwmKb, maxRssKb: process.resourceUsage().maxRSS }));
  process.exit(0);
}

/** Deterministic pseudo-random text, compressible about 3:1 like source code or logs. */
function text(seed: number, size: number): Buffer {
  const words = [
    "container",
    "runtime",
    "layer",
    "kubelet",
    "sandbox",
    "overlay",
    "digest",
    "registry",
    "manifest",
    "snapshot",
  ];
  const out: string[] = [];
  let n = 0;
  let x = seed;
  while (n < size) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = `${words[x % words.length]}${x % 97} `;
    out.push(w);
    n += w.length;
  }
  return Buffer.from(out.join("").slice(0, size));
}

async function buildBenchImage(dir: string): Promise<{ bytes: number; compressed: number }> {
  const layout = await new OciLayout(dir).init();
  const specs: TarSpec[][] = [];
  // 1. busybox base
  specs.push([
    { path: "bin/", type: "dir" },
    { path: "bin/busybox", type: "file", mode: 0o755, data: await readFile("/bin/busybox") },
  ]);
  // 2. incompressible: 4 × 5 MiB of random bytes (media, binaries)
  specs.push([
    { path: "blobs/", type: "dir" },
    ...[0, 1, 2, 3].map(
      (i): TarSpec => ({ path: `blobs/r${i}.bin`, type: "file", data: randomBytes(5 << 20) }),
    ),
  ]);
  // 3. compressible: 2000 files × 8 KiB of text (a source tree)
  const src: TarSpec[] = [{ path: "src/", type: "dir" }];
  for (let d = 0; d < 20; d++) {
    src.push({ path: `src/d${d}/`, type: "dir" });
    for (let f = 0; f < 100; f++)
      src.push({ path: `src/d${d}/f${f}.txt`, type: "file", data: text(d * 1000 + f, 8192) });
  }
  specs.push(src);
  // 4. mixed: 10 MiB of base64 text (semi-compressible) + symlinks and hard links
  specs.push([
    { path: "data/", type: "dir" },
    { path: "data/b64.txt", type: "file", data: Buffer.from(randomBytes(7_500_000).toString("base64")) },
    { path: "data/link", type: "symlink", linkname: "b64.txt" },
    { path: "data/hard", type: "link", linkname: "data/b64.txt" },
    ...Array.from(
      { length: 200 },
      (_, i): TarSpec => ({ path: `data/small${i}`, type: "file", data: text(i, 4096) }),
    ),
  ]);
  const layers = [];
  for (const entries of specs) layers.push(await layout.layer({ entries }));
  await layout.image("v1", layers, { config: { Cmd: ["/bin/busybox", "sh"] } });
  const bytes = specs
    .flat()
    .reduce((n, e) => n + (e.type === "file" ? Buffer.byteLength(e.data ?? "") : 0), 0);
  return { bytes, compressed: layers.reduce((n, l) => n + l.size, 0) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function servinRound(
  root: string,
  ref: string,
): Promise<{ ms: number; wallMs: number; hwmKb: number }> {
  const t0 = performance.now();
  const prof = process.argv.includes("--cpu-prof")
    ? ["--cpu-prof", `--cpu-prof-dir=${join(repoRoot, "bench/results/profiles")}`]
    : [];
  const child = spawn(
    process.execPath,
    [...prof, "--conditions=source", "--import", "tsx", self, "--child", root, ref],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`servin pull child exited ${code}`);
  const res = JSON.parse(out) as { ms: number; hwmKb: number };
  return { ms: res.ms, hwmKb: res.hwmKb, wallMs: performance.now() - t0 };
}

async function referenceRound(dir: string, ref: string): Promise<number> {
  const t0 = performance.now();
  await run("skopeo", [
    "copy",
    "-q",
    "--src-tls-verify=false",
    `docker://${ref}`,
    `oci:${join(dir, "oci")}:v1`,
  ]);
  await run("umoci", ["unpack", "--image", `${join(dir, "oci")}:v1`, join(dir, "bundle")]);
  return performance.now() - t0;
}

const roundsArg = process.argv.indexOf("--rounds");
const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
const tmp = await mkdtemp(join(tmpdir(), "servin-bench-pull-"));
const reg = await startRegistry();
try {
  const size = await buildBenchImage(join(tmp, "layout"));
  const ref = `${reg.directHost}/bench/image:v1`;
  await pushLayout(join(tmp, "layout"), "v1", ref);
  const servin: Array<{ ms: number; wallMs: number; hwmKb: number }> = [];
  const reference: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate who goes first so page-cache warmth favours neither side.
    const sRoot = join(tmp, `servin-${i}`);
    const rDir = join(tmp, `ref-${i}`);
    await mkdir(sRoot);
    await mkdir(rDir);
    if (i % 2 === 0) {
      servin.push(await servinRound(sRoot, ref));
      reference.push(await referenceRound(rDir, ref));
    } else {
      reference.push(await referenceRound(rDir, ref));
      servin.push(await servinRound(sRoot, ref));
    }
    await rm(sRoot, { recursive: true, force: true });
    await rm(rDir, { recursive: true, force: true });
    process.stderr.write(
      `round ${i + 1}/${rounds}: servin ${servin[i]!.ms.toFixed(0)} ms, skopeo+umoci ${reference[i]!.toFixed(0)} ms\n`,
    );
  }
  const baseline = await servinRound(join(tmp, "baseline"), "-");
  const sMed = median(servin.map((r) => r.ms));
  const wMed = median(servin.map((r) => r.wallMs));
  const rMed = median(reference);
  const peak = Math.max(...servin.map((r) => r.hwmKb));
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `\nimage: ${mb(size.bytes)} MiB uncompressed, ${mb(size.compressed)} MiB compressed, 4 layers; ${rounds} cold rounds\n`,
  );
  console.log("| what | median ms | vs skopeo+umoci |");
  console.log("|---|---:|---:|");
  console.log(`| servin pull + unpack (in process) | ${sMed.toFixed(0)} | ${(sMed / rMed).toFixed(2)}× |`);
  console.log(`| servin incl. node start (child wall) | ${wMed.toFixed(0)} | ${(wMed / rMed).toFixed(2)}× |`);
  console.log(`| skopeo copy + umoci unpack | ${rMed.toFixed(0)} | 1.00× |`);
  console.log(
    `\nservin peak RSS during pull (VmHWM, whole process): ${(peak / 1024).toFixed(1)} MiB; ` +
      `same process without a pull: ${(baseline.hwmKb / 1024).toFixed(1)} MiB`,
  );
  await mkdir(join(repoRoot, "bench/results"), { recursive: true });
  const result = {
    date: new Date().toISOString(),
    rounds,
    size,
    servin,
    reference,
    medians: { servin: sMed, servinWall: wMed, reference: rMed },
    peakRssKb: peak,
    baselineRssKb: baseline.hwmKb,
  };
  await writeFile(join(repoRoot, "bench/results/image-pull.json"), JSON.stringify(result, null, 2));
} finally {
  await reg.stop();
  await rm(tmp, { recursive: true, force: true });
}
