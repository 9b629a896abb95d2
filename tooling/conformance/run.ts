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
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crictl, kit, kitDir, kitUnavailable, kitUp, ServinProcess, sh } from "./servin-process.js";

const here = dirname(fileURLToPath(import.meta.url));
const requireReal = process.env.SERVIN_REQUIRE_REAL === "1";
const SMOKE_IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2";

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

async function smoke(servin: ServinProcess, dir: string): Promise<void> {
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

async function critest(servin: ServinProcess, run: string): Promise<void> {
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

async function main(): Promise<number> {
  const skip = (why: string) => {
    if (requireReal) {
      log(`cannot run: ${why} (SERVIN_REQUIRE_REAL=1)`);
      return 1;
    }
    log(`skipped: ${why}`);
    return 0;
  };
  const unavailable = kitUnavailable();
  if (unavailable) return skip(unavailable);

  log(`setting up the kit (${kit}/up.sh) …`);
  const up = await kitUp();
  if (up.code !== 0) {
    log(`up.sh failed:\n${up.stdout}\n${up.stderr}`);
    return 1;
  }

  const servin = await ServinProcess.create("servin-conformance-");
  const dir = servin.dir;
  let code = 0;
  try {
    await servin.start();
    log(`servin listening on ${servin.endpoint} (root ${dir}/root)`);
    await smoke(servin, dir);
    const runs = (process.env.CONFORMANCE_RUNS ?? "seq,par4").split(",").filter(Boolean);
    for (const run of runs) {
      await critest(servin, run);
      // critest leaves no pod when it passes; a failed spec may.
      const left = await servin.removeAllPods();
      if (left > 0) log(`removed ${left} pod(s) left behind by critest ${run}`);
    }
  } catch (err) {
    record("servin", false, (err as Error).message);
  } finally {
    await servin.stop();
    record("servin stopped cleanly on SIGTERM", !servin.exitedBadly);
    if (servin.exitedBadly) log(`servin's last output:\n${servin.output.slice(-3000)}`);
    // Nothing of ours may be left in runc: servin removed every pod before it stopped.
    const left = await servin.runcLeftovers();
    record("no containers left in runc after the run", left.length === 0, left.join(" "));
    if (process.env.CONFORMANCE_KEEP !== "1") await servin.removeDir();
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
