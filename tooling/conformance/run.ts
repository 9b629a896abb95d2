/**
 * `pnpm test:conformance`: the Kubernetes CRI conformance suite (critest) and a crictl smoke flow,
 * both the unmodified cri-tools v1.26.1 of the conformance kit, against the real `servin` binary.
 *
 * 1. sets up the kit (`up.sh`: local registry with critest's images, fenced CNI bridge);
 * 2. starts `apps/servin/dist/servin.js cri start` (oci backend, disk images, the kit's registry as
 *    mirror of every upstream host, the kit's CNI network) on a private root, state dir and socket;
 * 3. drives the crictl smoke flow (version … rmi), checking every answer;
 * 4. runs critest sequentially and with PARALLEL=4, and compares each results.tsv with
 *    `expected-pass.txt`: a listed spec that does not pass fails the run (the list only grows);
 * 5. removes every pod it left, stops servin, and checks that nothing is left in runc's root.
 *
 * Options (environment): CONFORMANCE_KIT (default ../shared/conformance beside the repository),
 * CONFORMANCE_RUNS ("seq,par4"), CONFORMANCE_KEEP=1 keeps the temporary root for inspection.
 * Without the kit, or without root, it skips, unless SERVIN_REQUIRE_REAL=1 (CI), where it fails.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const kit = resolve(process.env.CONFORMANCE_KIT ?? join(repo, "../shared/conformance"));
const requireReal = process.env.SERVIN_REQUIRE_REAL === "1";
const SMOKE_IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
const kitDir = process.env.KIT_DIR ?? join(process.env.TMPDIR ?? "/tmp", "servin-conformance");
/** The kit's fenced CNI network (network-up.sh, run by up.sh) and the Debian plugins, as env.sh sets them. */
const cniConfDir = process.env.CNI_CONF_DIR ?? join(kitDir, "cni/net.d");
const cniBinDir = process.env.CNI_BIN_DIR ?? "/usr/lib/cni";

interface Outcome {
  name: string;
  ok: boolean;
  detail?: string;
}
const outcomes: Outcome[] = [];

function log(line: string): void {
  process.stdout.write(`conformance: ${line}\n`);
}

function record(name: string, ok: boolean, detail?: string): void {
  outcomes.push({ name, ok, ...(detail ? { detail } : {}) });
  log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        typeof address === "object" && address ? res(address.port) : rej(new Error("no port")),
      );
    });
  });
}

function socketAccepts(path: string): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => res(false));
  });
}

async function sh(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, {
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === "number" ? e.code : 1,
      stdout: e.stdout ?? "",
      stderr: e.stderr || e.message,
    };
  }
}

/** The spec names from a results.tsv (`state<TAB>spec`), by state. */
function readResults(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) out.set(line.slice(tab + 1), line.slice(0, tab));
  }
  return out;
}

function readExpected(): string[] {
  return readFileSync(join(here, "expected-pass.txt"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

class Servin {
  child?: ChildProcess;
  output = "";
  constructor(
    readonly dir: string,
    readonly socket: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const args = [
      join(repo, "apps/servin/dist/servin.js"),
      "cri",
      "start",
      "--backend",
      "oci",
      "--image-backend",
      "disk",
      "--root",
      join(this.dir, "root"),
      "--state-dir",
      join(this.dir, "state"),
      "--grpc-socket",
      this.socket,
      "--port",
      String(this.port),
      "--config",
      join(here, "servin.toml"),
      "--cni-conf-dir",
      cniConfDir,
      "--cni-bin-dir",
      cniBinDir,
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 4_000_000) this.output = this.output.slice(-2_000_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`servin exited with ${child.exitCode}:\n${this.output}`);
      if (await socketAccepts(this.socket)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`servin did not listen on ${this.socket} within 60 s:\n${this.output}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

/** crictl, unmodified, against servin's socket. */
function crictl(socket: string) {
  const bin = join(kit, "bin/crictl");
  const endpoint = `unix://${socket}`;
  return (args: string[], timeoutMs = 120_000) =>
    sh(bin, ["--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "--timeout", "60s", ...args], {
      timeoutMs,
    });
}

async function smoke(servin: Servin, dir: string): Promise<void> {
  const c = crictl(servin.socket);
  const step = async (name: string, args: string[], check: (out: string) => string | undefined) => {
    const r = await c(args);
    const firstError = r.stderr.trim().split("\n").pop()?.slice(0, 300);
    const problem = r.code !== 0 ? `exit ${r.code}: ${firstError}` : check(r.stdout);
    record(`crictl ${name}`, problem === undefined, problem);
    return problem === undefined ? r.stdout.trim() : undefined;
  };
  const has = (needle: string) => (out: string) =>
    out.includes(needle) ? undefined : `output lacks "${needle}": ${out.slice(0, 300)}`;
  const json = (check: (v: Record<string, unknown>) => string | undefined) => (out: string) => {
    try {
      return check(JSON.parse(out) as Record<string, unknown>);
    } catch (err) {
      return `not JSON (${(err as Error).message}): ${out.slice(0, 200)}`;
    }
  };

  const logDir = join(dir, "smoke-logs");
  await mkdir(logDir, { recursive: true });
  const podJson = join(dir, "pod.json");
  const ctrJson = join(dir, "container.json");
  await writeFile(
    podJson,
    JSON.stringify({
      metadata: { name: "smoke-pod", namespace: "conformance", uid: "smoke-pod-uid", attempt: 1 },
      log_directory: logDir,
      linux: {},
    }),
  );
  await writeFile(
    ctrJson,
    JSON.stringify({
      metadata: { name: "smoke-ctr" },
      image: { image: SMOKE_IMAGE },
      command: ["/bin/sh", "-c", "echo hello-from-servin; while true; do sleep 1; done"],
      log_path: "smoke-ctr.log",
      linux: {},
    }),
  );

  await step("version", ["version"], has("RuntimeName:  servin"));
  await step(
    "info",
    ["info"],
    json((v) => (v.status ? undefined : "no status in info")),
  );
  await step("pull", ["pull", SMOKE_IMAGE], has("Image is up to date"));
  await step("images", ["images"], has("registry.k8s.io/e2e-test-images/busybox"));
  const pod = await step("runp", ["runp", podJson], (out) =>
    /^[0-9a-f]{64}$/.test(out.trim()) ? undefined : `not a pod ID: ${out}`,
  );
  if (!pod) return;
  const ctr = await step("create", ["create", pod, ctrJson, podJson], (out) =>
    /^[0-9a-f]{64}$/.test(out.trim()) ? undefined : `not a container ID: ${out}`,
  );
  if (ctr) {
    await step("start", ["start", ctr], has(ctr));
    await step("ps", ["ps"], has(ctr.slice(0, 13)));
    await step("exec -s", ["exec", "-s", ctr, "echo", "exec-ok"], has("exec-ok"));
    // The container writes its line right after start; give conmon a moment to flush it.
    let logs: string | undefined;
    for (let i = 0; i < 50 && !logs?.includes("hello-from-servin"); i++) {
      logs = (await c(["logs", ctr])).stdout;
      if (!logs.includes("hello-from-servin")) await new Promise((r) => setTimeout(r, 100));
    }
    await step("logs", ["logs", ctr], has("hello-from-servin"));
    await step("stats", ["stats", "-o", "json", "--id", ctr], has(ctr));
    await step(
      "inspect",
      ["inspect", ctr],
      json((v) => {
        const state = (v.status as { state?: string } | undefined)?.state;
        return state === "CONTAINER_RUNNING" ? undefined : `state ${state}`;
      }),
    );
  }
  await step(
    "inspectp",
    ["inspectp", pod],
    json((v) => {
      const state = (v.status as { state?: string } | undefined)?.state;
      return state === "SANDBOX_READY" ? undefined : `state ${state}`;
    }),
  );
  if (ctr) {
    await step("stop", ["stop", ctr], has(ctr));
    await step("rm", ["rm", ctr], has(ctr));
  }
  await step("stopp", ["stopp", pod], has(pod));
  await step("rmp", ["rmp", pod], has(pod));
  await step("rmi", ["rmi", SMOKE_IMAGE], has("Deleted"));
  await step("images after rmi", ["images", "-q"], (out) =>
    out.trim() === "" ? undefined : `images left: ${out}`,
  );
}

async function critest(servin: Servin, run: string): Promise<void> {
  const parallel = run === "seq" ? 1 : Number(run.replace(/^par/, ""));
  const runName = `servin-${run}-${process.pid}`;
  const resultsDir = join(kitDir, "results", runName);
  log(`critest ${run === "seq" ? "sequential" : `PARALLEL=${parallel}`} (${runName}) …`);
  const started = Date.now();
  const r = await sh("bash", [join(kit, "critest.sh")], {
    env: {
      ...process.env,
      CRI_ENDPOINT: `unix://${servin.socket}`,
      RUN_NAME: runName,
      PARALLEL: String(parallel),
    },
    timeoutMs: 30 * 60_000,
  });
  const summary = r.stdout.trim().split("\n").pop() ?? "";
  log(
    `critest ${run}: ${summary.replace(/^critest: /, "")} in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  const tsv = join(resultsDir, "results.tsv");
  if (!existsSync(tsv)) {
    record(`critest ${run}`, false, `no results.tsv (exit ${r.code}): ${r.stderr.slice(-500)}`);
    return;
  }
  const results = readResults(tsv);
  const expected = readExpected();
  const missing = expected.filter((spec) => results.get(spec) !== "passed");
  for (const spec of missing)
    record(`critest ${run}: ${spec}`, false, `expected to pass, was ${results.get(spec) ?? "absent"}`);
  const passed = [...results].filter(([, state]) => state === "passed").map(([spec]) => spec);
  const extra = passed.filter((spec) => !expected.includes(spec));
  record(
    `critest ${run}: ${expected.length - missing.length} of ${expected.length} listed specs passed (${passed.length} of ${results.size} in all)`,
    missing.length === 0,
  );
  for (const spec of extra) log(`newly passing (add it to expected-pass.txt): ${spec}`);
  // critest's benchmark specs are always skipped in a conformance run; they are not gaps.
  const known = [...results].filter(
    ([spec, state]) => state !== "passed" && state !== "skipped" && !expected.includes(spec),
  );
  for (const [spec, state] of known) log(`known gap (${state}): ${spec}`);
  if (missing.length > 0)
    log(`failure details: ${join(resultsDir, "table.md")}, ${join(resultsDir, "critest.log")}`);
}

/** Removes every pod servin still has (critest leaves none when it passes; a failed spec may). */
async function removeAllPods(servin: Servin): Promise<number> {
  const c = crictl(servin.socket);
  const pods = (await c(["pods", "-q"])).stdout.split("\n").filter(Boolean);
  for (const pod of pods) {
    await c(["stopp", pod]);
    await c(["rmp", pod]);
  }
  return pods.length;
}

async function main(): Promise<number> {
  const skip = (why: string) => {
    if (requireReal) {
      log(`cannot run: ${why} (SERVIN_REQUIRE_REAL=1)`);
      return 1;
    }
    log(`skipped: ${why}`);
    return 0;
  };
  if (process.getuid?.() !== 0) return skip("needs root");
  if (!existsSync(join(kit, "critest.sh"))) return skip(`no conformance kit at ${kit}`);
  if (!existsSync(join(repo, "apps/servin/dist/servin.js"))) return skip("servin is not built (pnpm build)");

  log(`setting up the kit (${kit}/up.sh) …`);
  const up = await sh("bash", [join(kit, "up.sh")], { timeoutMs: 10 * 60_000 });
  if (up.code !== 0) {
    log(`up.sh failed:\n${up.stdout}\n${up.stderr}`);
    return 1;
  }

  const dir = await mkdtemp(join(tmpdir(), "servin-conformance-"));
  const servin = new Servin(dir, join(dir, "servin.sock"), await freePort());
  let code = 0;
  try {
    await servin.start();
    log(`servin listening on unix://${servin.socket} (root ${dir}/root)`);
    await smoke(servin, dir);
    const runs = (process.env.CONFORMANCE_RUNS ?? "seq,par4").split(",").filter(Boolean);
    for (const run of runs) {
      await critest(servin, run);
      const left = await removeAllPods(servin);
      if (left > 0) log(`removed ${left} pod(s) left behind by critest ${run}`);
    }
  } catch (err) {
    record("servin", false, (err as Error).message);
  } finally {
    await servin.stop();
    if (servin.child?.exitCode !== 0 && servin.child?.signalCode !== null) {
      log(`servin's last output:\n${servin.output.slice(-3000)}`);
    }
    // Nothing of ours may be left in runc: servin removed every pod before it stopped.
    const runcRoot = join(dir, "state", "runtime", "runc");
    if (existsSync(runcRoot)) {
      const listed = await sh("runc", ["--root", runcRoot, "list", "-q"]);
      const left = listed.stdout.split("\n").filter(Boolean);
      record("no containers left in runc after the run", left.length === 0, left.join(" "));
    }
    if (process.env.CONFORMANCE_KEEP !== "1") {
      const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
        .split("\n")
        .map((l) => l.split(" ")[4])
        .filter((m): m is string => !!m && m.startsWith(`${dir}/`))
        .sort()
        .reverse();
      for (const m of mounts) await sh("umount", ["-l", m]);
      await rm(dir, { recursive: true, force: true });
    }
  }
  const failed = outcomes.filter((o) => !o.ok);
  if (failed.length > 0) {
    code = 1;
    log(`${failed.length} check(s) failed:`);
    for (const f of failed) log(`  ${f.name}${f.detail ? ` — ${f.detail}` : ""}`);
  }
  process.stdout.write(`conformance: ${outcomes.length - failed.length} passed, ${failed.length} failed\n`);
  return code;
}

process.exitCode = await main();
