/**
 * No CNI leak across SIGKILL (issue 9), on real parts: the built servin binary with the oci
 * backend (conmon + runc) and the real plugins (bridge, host-local, portmap) on a fenced bridge
 * of its own. 50 pods with a hostPort each: servin is SIGKILLed while RunPodSandbox calls are in
 * their ADD, restarted, SIGKILLed again while StopPodSandbox calls are in their DEL, restarted,
 * every pod is removed, and then no IPAM allocation, veth, netns mount or file, or portmap rule
 * of the network is left. The kill moments are random (logged, with the seed to replay them).
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PLUGIN_DIR,
  realPartsMissing,
  type TestNet,
  testNetUp,
} from "../../../packages/cni/test/fixtures/bridge-net.js";
import { closedPort, type SpawnedServin, spawnServinOn } from "./_binary.js";
import { haveRuntimeTools, removeServinLeftovers } from "./_real-parts.js";

const _exec = promisify(execFile);
const PODS = Number(process.env.CNI_KILL_PODS ?? 50);
const BRIDGE = "svntest2";
const SUBNET = "10.99.2.0/24";
const NETWORK = "svnkill";
const missing = haveRuntimeTools() ? realPartsMissing() : "runc, conmon or catatonit missing";
if (missing && process.env.SERVIN_REQUIRE_REAL === "1")
  throw new Error(`SERVIN_REQUIRE_REAL=1 but ${missing}`);

/** A small seeded PRNG (mulberry32), so a failing run's kill moments can be replayed with CNI_KILL_SEED. */
const seed = Number(process.env.CNI_KILL_SEED ?? randomBytes(4).readUInt32LE(0));
let state = seed;
function random(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

let net: TestNet;
let dir: string;
let port: number;
let config: string;
const cgroupParent = `servin-cnikill-${randomBytes(3).toString("hex")}`;
const stateDir = () => join(dir, "run");
const dataDir = () => join(dir, "data");

type Servin = SpawnedServin;

function spawnServin(): Servin {
  return spawnServinOn({ port, dir, config, imageBackend: "memory" });
}

/** Waits until the API answers and background recovery has finished. */
async function ready(s: Servin): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (s.child.exitCode !== null) throw new Error(`servin exited (${s.child.exitCode}):\n${s.output()}`);
    if (/runtime recovered/.test(s.output()) && (await s.cri.version({}).catch(() => undefined))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`servin did not recover within 60 s:\n${s.output()}`);
}

function podConfig(i: number) {
  return {
    metadata: { name: `kill-${i}`, namespace: "cni-kill", uid: `uid-kill-${i}`, attempt: 0 },
    hostname: `kill-${i}`,
    portMappings: [
      { protocol: "TCP" as const, containerPort: 80, hostPort: 30_000 + i, hostIp: "127.0.0.1" },
    ],
  };
}

/**
 * Resolves once an attachment record is in `state` (a plugin call is under way), then after a
 * random 0 to `jitterMs` more: the moment of the kill.
 */
async function whileIn(state: "adding" | "deleting", jitterMs: number): Promise<number> {
  const t0 = performance.now();
  while (((await attachmentStates())[state] ?? 0) === 0) {
    if (performance.now() - t0 > 60_000)
      throw new Error(`no attachment record got to "${state}" within 60 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
  const jitter = Math.floor(random() * jitterMs);
  await new Promise((r) => setTimeout(r, jitter));
  return jitter;
}

/** The attachment records' states right now (what a kill interrupts). */
async function attachmentStates(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const cache = join(dataDir(), "cni");
  for (const f of await readdir(cache).catch(() => [] as string[])) {
    if (!f.endsWith(".json")) continue;
    try {
      const s = (JSON.parse(readFileSync(join(cache, f), "utf8")) as { state: string }).state;
      out[s] = (out[s] ?? 0) + 1;
    } catch {}
  }
  return out;
}

/** Everything of the network that a leaked pod would hold. */
function networkCensus(): string[] {
  const out: string[] = [];
  const ipam = join(net.ipamDir, NETWORK);
  if (existsSync(ipam))
    out.push(
      ...readdirSync(ipam)
        .filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
        .map((f) => `ipam: ${f}`),
    );
  out.push(
    ...execFileSync("ip", ["-o", "link", "show", "master", BRIDGE], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => `veth: ${l.split(":")[1]?.trim()}`),
  );
  const netns = join(stateDir(), "netns");
  out.push(...(existsSync(netns) ? readdirSync(netns) : []).map((f) => `netns file: ${f}`));
  out.push(
    ...readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .filter((l) => l.includes(netns))
      .map((l) => `netns mount: ${l.split(" ")[4]}`),
  );
  out.push(
    ...execFileSync("iptables-save", ["-t", "nat"], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l.includes(`\\"${NETWORK}\\"`) || l.includes(SUBNET.replace(/0\/24$/, "")))
      .map((l) => `iptables: ${l}`),
  );
  const cache = join(dataDir(), "cni");
  out.push(...(existsSync(cache) ? readdirSync(cache) : []).map((f) => `attachment record: ${f}`));
  return out;
}

describe.skipIf(missing !== undefined)(
  `${PODS} pods with CNI, SIGKILL during ADD and during DEL (real servin binary, runc, plugins)`,
  () => {
    beforeAll(async () => {
      net = await testNetUp({ bridge: BRIDGE, subnet: SUBNET }); // the guard rules come first
      dir = await mkdtemp(join(tmpdir(), "servin-cnikill-"));
      const confDir = join(dir, "net.d");
      await mkdir(confDir, { recursive: true });
      await writeFile(
        join(confDir, "10-svnkill.conflist"),
        JSON.stringify({
          cniVersion: "1.0.0",
          name: NETWORK,
          plugins: [
            {
              type: "bridge",
              bridge: BRIDGE,
              isGateway: true,
              ipMasq: false,
              hairpinMode: true,
              ipam: { type: "host-local", ranges: [[{ subnet: SUBNET }]], dataDir: net.ipamDir },
            },
            { type: "portmap", capabilities: { portMappings: true } },
          ],
        }),
      );
      config = join(dir, "config.toml");
      await writeFile(
        config,
        `[runtime]\ncgroup_parent = "${cgroupParent}"\n\n[network]\nconf_dir = "${confDir}"\nbin_dirs = ["${PLUGIN_DIR}"]\n`,
      );
      port = await closedPort();
    }, 600_000);

    afterAll(async () => {
      if (dir) {
        // Whatever a failed run left: remove it so the machine stays clean.
        await removeServinLeftovers(dir, stateDir(), cgroupParent);
      }
      await net?.down();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, 120_000);

    it("after kills mid-ADD and mid-DEL, restarts and removing every pod, nothing of the network is left", async () => {
      const half = Math.floor(PODS / 2);
      const started = performance.now();

      // 1. SIGKILL while RunPodSandbox calls are in their ADD: after a random share has answered.
      const s1 = spawnServin();
      await ready(s1);
      const runs1 = Array.from({ length: half }, (_, i) => s1.cri.runPodSandbox({ config: podConfig(i) }));
      // The kill cuts these calls: their outcome is read from the state, and allSettled below.
      for (const r of runs1) r.catch(() => {});
      const jitterAdd = await whileIn("adding", 150);
      const midAdd = await attachmentStates();
      await s1.stop("SIGKILL");
      const answered1 = (await Promise.allSettled(runs1)).filter((r) => r.status === "fulfilled").length;

      // 2. Restart; the rest of the pods; then SIGKILL while StopPodSandbox calls are in their DEL.
      const s2 = spawnServin();
      await ready(s2);
      const runs2 = await Promise.allSettled(
        Array.from({ length: PODS - half }, (_, i) => s2.cri.runPodSandbox({ config: podConfig(half + i) })),
      );
      expect(runs2.filter((r) => r.status === "rejected")).toEqual([]);
      const pods2 = (await s2.cri.listPodSandbox({})).items.filter((p) => p.state === "SANDBOX_READY");
      const withIp = await Promise.all(
        pods2.map(async (p) => (await s2.cri.podSandboxStatus({ podSandboxId: p.id })).status.network?.ip),
      );
      expect(withIp.filter((ip) => !ip?.startsWith(SUBNET.replace(/0\/24$/, "")))).toEqual([]);
      const stops = pods2.map((p) => s2.cri.stopPodSandbox({ podSandboxId: p.id }));
      for (const r of stops) r.catch(() => {});
      const jitterDel = await whileIn("deleting", 300);
      const midDel = await attachmentStates();
      await s2.stop("SIGKILL");
      const answered2 = (await Promise.allSettled(stops)).filter((r) => r.status === "fulfilled").length;

      // 3. Restart and remove every pod through the API; a clean shutdown.
      const s3 = spawnServin();
      await ready(s3);
      const left = (await s3.cri.listPodSandbox({})).items;
      for (const p of left) {
        await s3.cri.stopPodSandbox({ podSandboxId: p.id });
        await s3.cri.removePodSandbox({ podSandboxId: p.id });
      }
      expect((await s3.cri.listPodSandbox({})).items).toEqual([]);
      expect(await s3.stop("SIGTERM")).toBe(0);

      console.log(
        `cni kill test (seed ${seed}, ${PODS} pods): killed ${jitterAdd} ms after the first ADD began, ${answered1} of ${half} RunPodSandbox answered ` +
          `(records then ${JSON.stringify(midAdd)}); killed ${jitterDel} ms after the first DEL began, ${answered2} of ${pods2.length} StopPodSandbox answered ` +
          `(records then ${JSON.stringify(midDel)}); ` +
          `${left.length} pods removed after the last restart; ${Math.round((performance.now() - started) / 1000)} s`,
      );
      expect(answered1).toBeLessThan(half);
      expect(networkCensus()).toEqual([]);
    }, 600_000);
  },
);
