/**
 * Crash recovery never blocks the API (issue 14 #4), on real parts: the built
 * servin binary with the oci backend (conmon + runc) and disk images from a
 * real registry. SIGKILL during 20 concurrent creates, then a kill -9 restart
 * loop under load, each restart answering /health and ListContainers over HTTP
 * and gRPC within 2 s of the spawn (the bound), and a leak census at the end.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createCriGrpcClient } from "@servin/cri-grpc";
import type { CriClient } from "@servin/cri-http";
import type { TestRegistry } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPort, type SpawnedServin, spawnServinOn } from "./_binary.js";
import { haveRealParts, removeServinLeftovers, startMirrorRegistry } from "./_real-parts.js";

const exec = promisify(execFile);

/** The requirement: the API answers within 2 s of a restart, measured from the spawn. */
const API_BACK_WITHIN_MS = 2_000;
const CYCLES = 12;

let registry: TestRegistry;
let dir: string;
let port: number;
let config: string;
const cgroupParent = `servin-loop-${randomBytes(3).toString("hex")}`;
const stateDir = () => join(dir, "run");
const socket = () => join(stateDir(), "servin.sock");

type Servin = SpawnedServin;

function spawnServin(): Servin {
  return spawnServinOn({ port, dir, config, imageBackend: "disk" });
}

/** ms from the spawn until /health, HTTP ListContainers and gRPC ListContainers each first answered well. */
async function timeToApi(s: Servin): Promise<{ health: number; http: number; grpc: number }> {
  const base = `http://127.0.0.1:${port}`;
  const probe = async (attempt: () => Promise<boolean>): Promise<number> => {
    const deadline = s.spawnedAt + 60_000;
    while (performance.now() < deadline) {
      if (s.child.exitCode !== null) throw new Error(`servin exited (${s.child.exitCode}):\n${s.output()}`);
      if (await attempt().catch(() => false)) return Math.round(performance.now() - s.spawnedAt);
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the API did not come back within 60 s:\n${s.output()}`);
  };
  const [health, http, grpc] = await Promise.all([
    probe(async () => (await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })).ok),
    probe(async () => {
      const res = await fetch(`${base}/v1/runtime/container/list`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(1000),
      });
      return res.ok && Array.isArray(((await res.json()) as { containers?: unknown[] }).containers);
    }),
    probe(async () => {
      if (!existsSync(socket())) return false;
      // A fresh channel per attempt: a channel that failed to connect backs off for a second.
      const c = createCriGrpcClient(`unix://${socket()}`, { timeoutMs: 1000 });
      try {
        return Array.isArray((await c.listContainers({})).containers);
      } finally {
        c.close();
      }
    }),
  ]);
  return { health, http, grpc };
}

/** Waits until servin logged that background recovery has finished. */
async function recovered(s: Servin): Promise<void> {
  for (let i = 0; i < 600 && !/runtime recovered/.test(s.output()); i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(s.output()).toMatch(/runtime recovered/);
}

async function runcList(): Promise<Array<{ id: string; status: string }>> {
  const root = join(stateDir(), "runtime", "runc");
  if (!existsSync(root)) return [];
  const { stdout } = await exec("/usr/sbin/runc", ["--root", root, "list", "--format", "json"]);
  return JSON.parse(stdout || "[]") ?? [];
}

async function conmons(): Promise<string[]> {
  const { stdout } = await exec("ps", ["-eo", "pid,args"]);
  return stdout.split("\n").filter((l) => l.includes("conmon") && l.includes(stateDir()));
}

/** True when a live catatonit started directly for pod `id` runs (its launch marks its environment). */
function infraProcessRuns(id: string): boolean {
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.includes("(catatonit)") || stat.charAt(stat.lastIndexOf(")") + 2) === "Z") continue;
      if (readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(`SERVIN_POD_INFRA=${id}`))
        return true;
    } catch {}
  }
  return false;
}

const listDir = (d: string) => (existsSync(d) ? readdirSync(d) : []);

/**
 * While servin runs: every record the API shows is what runc has (a created
 * container has no runc container yet, as in containerd, or runc "created" when a
 * start was cut short after `runc create`; a running one "running", an exited one
 * gone or "stopped"), and runc has nothing servin has no record of.
 */
async function storeMatchesRunc(cri: CriClient): Promise<void> {
  const pods = (await cri.listPodSandbox({})).items;
  const containers = (await cri.listContainers({})).containers;
  const runc = new Map((await runcList()).map((c) => [c.id, c.status]));
  const known = new Set<string>([...pods.map((p) => p.id), ...containers.map((c) => c.id)]);
  expect(
    [...runc.keys()].filter((id) => !known.has(id)),
    "runc containers without a servin record",
  ).toEqual([]);
  for (const c of containers) {
    const want = { CONTAINER_CREATED: [undefined, "created"], CONTAINER_RUNNING: ["running"] }[
      c.state as string
    ];
    if (want) expect(want, `container ${c.id} is ${c.state}`).toContain(runc.get(c.id));
  }
  // A ready pod's infra runs: a runc container, or catatonit started directly (no conmon, no runc).
  for (const p of pods)
    if (p.state === "SANDBOX_READY")
      expect(runc.get(p.id) === "running" || infraProcessRuns(p.id), `infra of pod ${p.id}`).toBe(true);
  // Every runc container that has not exited has its conmon, and no conmon is left without one.
  const live = [...runc].filter(([, status]) => status !== "stopped").map(([id]) => id);
  const monitors = await conmons();
  expect(monitors.length, `conmons ${monitors.join("\n")}\nrunc ${[...runc].join(" ")}`).toBe(live.length);
  for (const id of live)
    expect(
      monitors.some((l) => l.includes(id)),
      `conmon of ${id}`,
    ).toBe(true);
  // Store files on disk == what the API lists (half-created records are gone once recovery finished).
  const store = join(dir, "data", "runtime", "oci");
  expect(listDir(join(store, "containers")).filter((f) => f.endsWith(".json")).length).toBe(
    containers.length,
  );
  expect(listDir(join(store, "sandboxes")).filter((f) => f.endsWith(".json")).length).toBe(pods.length);
  // Bundles: one per container the runtime knows of (runc "stopped" included), no strays.
  const bundles = listDir(join(stateDir(), "bundles"));
  expect(
    bundles.filter((b) => !known.has(b)),
    "bundle dirs without a record",
  ).toEqual([]);
}

/** After a clean shutdown with everything removed: nothing of servin's is left anywhere. */
async function leakCensus(): Promise<string[]> {
  const out: string[] = [];
  out.push(...(await runcList()).map((c) => `runc container: ${c.id} (${c.status})`));
  out.push(...(await conmons()).map((l) => `conmon: ${l.trim()}`));
  out.push(
    ...readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.includes(dir))
      .map((l) => `mount: ${l}`),
  );
  for (const sub of ["bundles", "exits", "sandbox-exits", "sandboxes", "sockets"])
    out.push(...listDir(join(stateDir(), sub)).map((f) => `state file: ${sub}/${f}`));
  for (const sub of ["containers", "sandboxes"])
    out.push(...listDir(join(dir, "data", sub)).map((f) => `data file: ${sub}/${f}`));
  for (const sub of ["containers", "sandboxes"])
    out.push(...listDir(join(dir, "data", "runtime", "oci", sub)).map((f) => `store record: ${sub}/${f}`));
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const d = join("/sys/fs/cgroup", ctrl, cgroupParent);
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) out.push(`cgroup: ${join(d, e.name)}`);
  }
  return out;
}

function podConfig(name: string) {
  return {
    metadata: { name, namespace: "loop", uid: `uid-${name}`, attempt: 0 },
    hostname: name,
    logDirectory: join(dir, "logs", name),
  };
}

function containerConfig(name: string) {
  return {
    metadata: { name, attempt: 0 },
    image: { image: "alpine:latest" },
    command: ["/bin/sh"],
    args: ["-c", "sleep 3600"],
    logPath: `${name}.log`,
  };
}

/** Calls that may be cut short by the kill: their outcome is checked through the state, not their answer. */
function settle(calls: Promise<unknown>[]): Promise<void> {
  return Promise.allSettled(calls).then(() => undefined);
}

describe.skipIf(!haveRealParts())("kill -9 restart loop (real servin binary, runc, conmon, registry)", () => {
  let podSandboxId: string;
  const backWithin: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-loop-"));
    ({ registry, config } = await startMirrorRegistry(dir, {
      image: "base",
      toml: `[runtime]\ncgroup_parent = "${cgroupParent}"\n\n`,
    }));
    port = await closedPort();
  }, 180_000);

  afterAll(async () => {
    await registry?.stop();
    if (!dir) return;
    // Whatever a failed test left: remove it so the machine stays clean.
    await removeServinLeftovers(dir, stateDir(), cgroupParent);
    await rm(dir, { recursive: true, force: true });
  });

  it("SIGKILL during 20 concurrent creates: after the restart the API answers within 2 s and recovery ends consistent", async () => {
    const first = spawnServin();
    await timeToApi(first);
    await first.cri.pullImage({ image: { image: "alpine:latest" } });
    podSandboxId = (await first.cri.runPodSandbox({ config: podConfig("loop") })).podSandboxId;

    // 20 creates at once; kill as soon as the first has answered, the others mid-way.
    let answered = 0;
    const firstAnswer = new Promise<void>((resolve) => {
      const creates = Array.from({ length: 20 }, (_, i) =>
        first.cri.createContainer({ podSandboxId, config: containerConfig(`burst-${i}`) }).then(() => {
          answered++;
          resolve();
        }),
      );
      void settle(creates).then(() => resolve());
    });
    await firstAnswer;
    await first.stop("SIGKILL");
    expect(answered).toBeLessThan(20);
    // A crash mid-create leaves runtime containers servin has no finished record of.
    const leftBehind = (await runcList()).length;
    const monitorsLeft = (await conmons()).length;

    const second = spawnServin();
    const t = await timeToApi(second);
    console.log(
      `restart after SIGKILL during 20 creates (${answered} answered, ${leftBehind} runc containers, ${monitorsLeft} conmons left): /health ${t.health} ms, HTTP ListContainers ${t.http} ms, gRPC ListContainers ${t.grpc} ms`,
    );
    expect(Math.max(t.health, t.http, t.grpc)).toBeLessThanOrEqual(API_BACK_WITHIN_MS);
    backWithin.push(Math.max(t.health, t.http, t.grpc));
    await recovered(second);
    const recoveredAfter = Math.round(performance.now() - second.spawnedAt);
    console.log(
      `recovery, cleanup of the half-created containers included, finished ${recoveredAfter} ms after the spawn`,
    );
    // Nothing lost: every create that answered is there.
    expect((await second.cri.listContainers({})).containers.length).toBeGreaterThanOrEqual(answered);
    await storeMatchesRunc(second.cri);
    expect(await second.stop("SIGKILL")).toBe(null);
  }, 120_000);

  it(`${CYCLES} kill -9 restarts under load: the API is back within 2 s every time; the final census finds no leak`, async () => {
    expect(podSandboxId).toBeDefined();
    const extraPods: string[] = [];
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const s = spawnServin();
      const t = await timeToApi(s);
      const worst = Math.max(t.health, t.http, t.grpc);
      backWithin.push(worst);
      expect(worst, `cycle ${cycle}: ${JSON.stringify(t)}\n${s.output()}`).toBeLessThanOrEqual(
        API_BACK_WITHIN_MS,
      );

      // Load while recovery may still run: creates, starts, removes, a pod run and a pod removal.
      // Unavailable (an object still being recovered) is an allowed answer; anything else 5xx is not.
      const errors: string[] = [];
      const note = (p: Promise<unknown>) =>
        p.catch((err: { code?: string; message?: string }) => {
          if (err.code === "Internal" || err.code === "Unknown") errors.push(err.message ?? String(err));
        });
      const existing = (await s.cri.listContainers({}).catch(() => ({ containers: [] }))).containers;
      const created = existing.filter((c) => c.state === "CONTAINER_CREATED");
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 6; i++)
        calls.push(note(s.cri.createContainer({ podSandboxId, config: containerConfig(`c${cycle}-${i}`) })));
      for (const c of created.slice(0, 3)) calls.push(note(s.cri.startContainer({ containerId: c.id })));
      for (const c of existing.slice(-3)) calls.push(note(s.cri.removeContainer({ containerId: c.id })));
      if (cycle % 3 === 0)
        calls.push(
          note(
            s.cri
              .runPodSandbox({ config: podConfig(`extra-${cycle}`) })
              .then((r) => extraPods.push(r.podSandboxId)),
          ),
        );
      if (cycle % 3 === 2 && extraPods.length > 0)
        calls.push(note(s.cri.removePodSandbox({ podSandboxId: extraPods.shift()! })));
      // Kill after a varying share of the calls has answered (the last cycles let everything finish).
      const killAfter = cycle % 4 === 3 ? calls.length : 1 + (cycle % 4) * 2;
      let done = 0;
      await new Promise<void>((resolve) => {
        for (const c of calls)
          void c.then(() => {
            if (++done >= killAfter) resolve();
          });
      });
      await s.stop("SIGKILL");
      expect(errors, `cycle ${cycle}: 5xx answers`).toEqual([]);
    }

    // The final start: consistent, then an orderly teardown through the API and a clean shutdown.
    const last = spawnServin();
    const t = await timeToApi(last);
    const worst = Math.max(t.health, t.http, t.grpc);
    backWithin.push(worst);
    // The bound holds after every restart, this last one (after the last SIGKILL) included.
    expect(worst, `final restart: ${JSON.stringify(t)}\n${last.output()}`).toBeLessThanOrEqual(
      API_BACK_WITHIN_MS,
    );
    await recovered(last);
    await storeMatchesRunc(last.cri);
    for (const p of (await last.cri.listPodSandbox({})).items) {
      await last.cri.stopPodSandbox({ podSandboxId: p.id });
      await last.cri.removePodSandbox({ podSandboxId: p.id });
    }
    expect((await last.cri.listContainers({})).containers).toEqual([]);
    expect(await last.stop("SIGTERM")).toBe(0);
    console.log(
      `API back after each restart (ms from spawn, worst of /health, HTTP and gRPC ListContainers): ${backWithin.join(", ")}`,
    );
    expect(await leakCensus()).toEqual([]);
  }, 240_000);
});
