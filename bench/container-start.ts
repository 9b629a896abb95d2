/**
 * Benchmark (not a test): RunPodSandbox + CreateContainer + StartContainer of
 * a busybox container through runtime-core over the OCI backend (conmon +
 * runc), 20 sequential runs and 10 concurrent, median and p95 per step —
 * side by side, in the same run, with plain `runc run -d` of an equivalent
 * bundle as the floor. Then the server's RSS idle and with 50 running pods.
 *
 * Run as root: node --conditions=source --import tsx bench/container-start.ts
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// bench/ is not a workspace package: import the packages' sources directly.
import { CriError, type ImageResolver } from "../packages/cri-types/src/index.js";
import {
  createFileStore,
  createRuntimeService,
  type ServinRuntimeService,
} from "../packages/runtime-core/src/index.js";
import { createOciBackend } from "../packages/runtime-oci/src/index.js";
import { makeBusyboxImage } from "../packages/runtime-oci/test/fixtures/busybox-image.js";

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 20);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 10);
const RSS_PODS = Number(process.env.BENCH_RSS_PODS ?? 50);
const RUNC = "/usr/sbin/runc";

if (process.getuid?.() !== 0) {
  console.error("container-start benchmark: needs root (real runc + conmon)");
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), "servin-bench-"));
const cgroupParent = `servin-bench-${randomBytes(3).toString("hex")}`;
const image = makeBusyboxImage(join(dir, "image"));
const images: ImageResolver = {
  async resolveImage(ref) {
    if (ref === image.ref) return image;
    throw CriError.notFound(`image "${ref}" not found`);
  },
};

function exec(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    // "exit", not "close": `runc run -d` hands our stderr to the container, which keeps it open.
    child.on("exit", (code) => {
      if (code !== 0 && process.env.BENCH_DEBUG) console.error(`${cmd} ${args.join(" ")}: ${err.trim()}`);
      resolve(code ?? -1);
    });
  });
}
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
};

type Steps = Record<string, number[]>;
const push = (steps: Steps, k: string, v: number) => {
  steps[k] ??= [];
  steps[k].push(v);
};

let counter = 0;
async function servinRun(runtime: ServinRuntimeService, steps: Steps): Promise<string> {
  const n = counter++;
  let t = process.hrtime.bigint();
  const { podSandboxId } = await runtime.runPodSandbox({
    config: { metadata: { name: `bench-${n}`, namespace: "bench", uid: `u${n}` }, hostname: `bench-${n}` },
  });
  push(steps, "RunPodSandbox", ms(t));
  t = process.hrtime.bigint();
  const { containerId } = await runtime.createContainer({
    podSandboxId,
    config: { metadata: { name: "sleeper" }, image: { image: image.ref }, command: ["sleep", "3600"] },
    sandboxConfig: { metadata: { name: `bench-${n}` } },
  });
  push(steps, "CreateContainer", ms(t));
  t = process.hrtime.bigint();
  await runtime.startContainer({ containerId });
  push(steps, "StartContainer", ms(t));
  const total = steps.RunPodSandbox!.at(-1)! + steps.CreateContainer!.at(-1)! + steps.StartContainer!.at(-1)!;
  push(steps, "total (pod+create+start)", total);
  return podSandboxId;
}

/** The floor: one bundle (read-only overlay rootfs of the same layers), `runc run -d` per container. */
async function prepareFloorBundle(): Promise<string> {
  const bundle = join(dir, "floor-bundle");
  const rootfs = join(bundle, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  const lower = [...image.layers].reverse().join(":");
  const upper = join(dir, "floor-upper");
  const work = join(dir, "floor-work");
  mkdirSync(upper, { recursive: true });
  mkdirSync(work, { recursive: true });
  const data = `lowerdir=${lower},upperdir=${upper},workdir=${work}`;
  if ((await exec("mount", ["-t", "overlay", "overlay", "-o", data, rootfs])) !== 0) {
    throw new Error("floor: overlay mount failed");
  }
  // Mount points for the read-only root, made once.
  for (const d of ["proc", "dev"]) mkdirSync(join(rootfs, d), { recursive: true });
  const spec = {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ["sleep", "3600"],
      env: ["PATH=/bin"],
      cwd: "/",
      capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: true },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755", "size=65536k"] },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "network" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }],
      cgroupsPath: `/${cgroupParent}/floor/ID`,
      resources: { devices: [{ allow: false, access: "rwm" }] },
    },
  };
  writeFileSync(join(bundle, "config.json"), JSON.stringify(spec));
  return bundle;
}

async function floorRun(bundle: string, root: string, steps: Steps, ids: string[]): Promise<void> {
  const id = `floor-${counter++}`;
  // Each container gets its own cgroup, like ours (one config.json per id, written before timing).
  const b = join(dir, "floor", id);
  mkdirSync(b, { recursive: true });
  writeFileSync(
    join(b, "config.json"),
    readFileSync(join(bundle, "config.json"), "utf8").replace("/ID", `/${id}`),
  );
  const t = process.hrtime.bigint();
  const code = await exec(RUNC, [
    "--root",
    root,
    "run",
    "-d",
    "--bundle",
    b,
    "--pid-file",
    join(dir, `${id}.pid`),
    id,
  ]);
  push(steps, "runc run -d", ms(t));
  if (code !== 0) throw new Error(`floor: runc run ${id} failed (${code})`);
  ids.push(id);
}

function table(title: string, groups: Record<string, Steps>): void {
  console.log(`\n${title}`);
  console.log(`${"step".padEnd(28)}${"n".padStart(4)}${"median ms".padStart(12)}${"p95 ms".padStart(10)}`);
  for (const [, steps] of Object.entries(groups)) {
    for (const [k, v] of Object.entries(steps)) {
      console.log(
        `${k.padEnd(28)}${String(v.length).padStart(4)}${quantile(v, 0.5).toFixed(1).padStart(12)}${quantile(v, 0.95).toFixed(1).padStart(10)}`,
      );
    }
  }
  const servin = groups.servin?.["total (pod+create+start)"];
  const start = groups.servin?.StartContainer;
  const floor = groups.floor?.["runc run -d"];
  if (servin && floor && start) {
    console.log(
      `ratio servin total / runc run -d: ${(quantile(servin, 0.5) / quantile(floor, 0.5)).toFixed(2)}x (median), ` +
        `${(quantile(servin, 0.95) / quantile(floor, 0.95)).toFixed(2)}x (p95); ` +
        `create+start only: ${((quantile(groups.servin!.CreateContainer!, 0.5) + quantile(start, 0.5)) / quantile(floor, 0.5)).toFixed(2)}x (median)`,
    );
  }
}

function conmonRssKb(stateDir: string): { count: number; kb: number } {
  let count = 0;
  let kb = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (!cmd.startsWith("/usr/bin/conmon") || !cmd.includes(stateDir)) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      count++;
      kb += Number(m?.[1] ?? 0);
    } catch {}
  }
  return { count, kb };
}

async function main(): Promise<void> {
  const root = join(dir, "root");
  const stateDir = join(dir, "state");
  const runtime = await createRuntimeService({
    backend: await createOciBackend({ root, stateDir, cgroupParent }),
    images,
    store: await createFileStore(join(dir, "store")),
  });
  const floorRoot = join(dir, "floor-runc");
  mkdirSync(floorRoot, { recursive: true });
  const bundle = await prepareFloorBundle();
  const pods: string[] = [];
  const floorIds: string[] = [];
  const cleanupBatch = async () => {
    for (const p of pods.splice(0)) await runtime.removePodSandbox({ podSandboxId: p });
    for (const id of floorIds.splice(0)) await exec(RUNC, ["--root", floorRoot, "delete", "--force", id]);
  };
  try {
    // Warm-up (page cache, first overlay mount, …), not measured.
    pods.push(await servinRun(runtime, {}));
    await floorRun(bundle, floorRoot, {}, floorIds);
    await cleanupBatch();

    // Sequential, interleaved so both sides see the same machine noise.
    const seq = { servin: {} as Steps, floor: {} as Steps };
    for (let i = 0; i < SEQUENTIAL; i++) {
      pods.push(await servinRun(runtime, seq.servin));
      await floorRun(bundle, floorRoot, seq.floor, floorIds);
    }
    await cleanupBatch();
    table(
      `sequential: ${SEQUENTIAL} runs (host: ${
        readFileSync("/proc/cpuinfo", "utf8")
          .split("\n")
          .filter((l) => l.startsWith("processor")).length
      } cores)`,
      seq,
    );

    const con = { servin: {} as Steps, floor: {} as Steps };
    pods.push(
      ...(await Promise.all(Array.from({ length: CONCURRENT }, () => servinRun(runtime, con.servin)))),
    );
    await Promise.all(
      Array.from({ length: CONCURRENT }, () => floorRun(bundle, floorRoot, con.floor, floorIds)),
    );
    await cleanupBatch();
    table(`concurrent: ${CONCURRENT} at once (latency of each call)`, con);

    global.gc?.();
    await new Promise((r) => setTimeout(r, 500));
    const idle = process.memoryUsage().rss;
    for (let i = 0; i < RSS_PODS; i++) pods.push(await servinRun(runtime, {}));
    await new Promise((r) => setTimeout(r, 500));
    const loaded = process.memoryUsage().rss;
    const conmon = conmonRssKb(stateDir);
    console.log(
      `\nRSS of the server process: idle ${(idle / 2 ** 20).toFixed(1)} MiB; with ${RSS_PODS} running pods (1 container each) ${(loaded / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(
      `conmon processes: ${conmon.count} (infra + containers), total RSS ${(conmon.kb / 1024).toFixed(1)} MiB`,
    );
    await cleanupBatch();
  } finally {
    await cleanupBatch().catch((e) => console.error(`cleanup: ${e}`));
    await runtime.close();
    await exec("umount", [join(bundle, "rootfs")]);
    for (const ctrl of readdirSync("/sys/fs/cgroup")) {
      for (const id of readdirSync(join("/sys/fs/cgroup", ctrl, cgroupParent, "floor")).filter((n) =>
        n.startsWith("floor-"),
      ))
        await exec("rmdir", [join("/sys/fs/cgroup", ctrl, cgroupParent, "floor", id)]).catch(() => 0);
      await exec("rmdir", [join("/sys/fs/cgroup", ctrl, cgroupParent, "floor")]).catch(() => 0);
      await exec("rmdir", [join("/sys/fs/cgroup", ctrl, cgroupParent)]).catch(() => 0);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
