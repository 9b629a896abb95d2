/** cgroup v1/v2/hybrid: where a cgroupsPath lives on disk, its stats, OOM kills, and removal. */
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readdir, readFile, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { pause } from "./_cancel.js";
import type { CgroupMode } from "./spec/resources.js";

const ROOT = "/sys/fs/cgroup";

/**
 * "v2" when /sys/fs/cgroup is cgroup2 itself; "hybrid" when v1 controllers
 * are mounted and a cgroup2 hierarchy (usually /sys/fs/cgroup/unified) holds
 * controllers too — the layout crun 1.8 refuses; "v1" otherwise.
 */
export async function detectCgroupMode(root = ROOT): Promise<CgroupMode> {
  if (existsSync(join(root, "cgroup.controllers"))) return "v2";
  const unified = join(root, "unified", "cgroup.controllers");
  if (existsSync(unified)) {
    const controllers = (await readFile(unified, "utf8").catch(() => "")).trim();
    if (controllers !== "") return "hybrid";
  }
  return "v1";
}

export interface CgroupSample {
  /** Cumulative CPU time, ns. */
  cpuUsageNs?: bigint;
  memoryUsage?: number;
  workingSet?: number;
  rss?: number;
  pageFaults?: number;
  majorPageFaults?: number;
  limit?: number;
  /** Processes in the cgroup (and below). */
  pids?: number;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

function parseKeyed(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.split(/\s+/);
    if (k && v !== undefined) out.set(k, Number(v));
  }
  return out;
}

/** The directory of `cgroupsPath` for a v1 controller, or the v2 one. */
export function cgroupDir(mode: CgroupMode, cgroupsPath: string, controller: string): string {
  return mode === "v2" ? join(ROOT, cgroupsPath) : join(ROOT, controller, cgroupsPath);
}

/**
 * CPU and memory as cAdvisor/kubelet compute them: working set = usage −
 * inactive file pages (never below 0).
 */
export async function readCgroupStats(mode: CgroupMode, cgroupsPath: string): Promise<CgroupSample> {
  const out: CgroupSample = {};
  if (mode === "v2") {
    const dir = join(ROOT, cgroupsPath);
    const cpu = parseKeyed(await readText(join(dir, "cpu.stat")));
    const usec = cpu.get("usage_usec");
    if (usec !== undefined) out.cpuUsageNs = BigInt(usec) * 1000n;
    const current = await readText(join(dir, "memory.current"));
    const mem = parseKeyed(await readText(join(dir, "memory.stat")));
    if (current !== undefined) {
      out.memoryUsage = Number(current.trim());
      out.workingSet = Math.max(0, out.memoryUsage - (mem.get("inactive_file") ?? 0));
    }
    if (mem.has("anon")) out.rss = mem.get("anon") ?? 0;
    if (mem.has("pgfault")) out.pageFaults = mem.get("pgfault") ?? 0;
    if (mem.has("pgmajfault")) out.majorPageFaults = mem.get("pgmajfault") ?? 0;
    const max = (await readText(join(dir, "memory.max")))?.trim();
    if (max && max !== "max") out.limit = Number(max);
    const pids = (await readText(join(dir, "pids.current")))?.trim();
    if (pids) out.pids = Number(pids);
    return out;
  }
  const cpu = (await readText(join(ROOT, "cpuacct", cgroupsPath, "cpuacct.usage")))?.trim();
  if (cpu) out.cpuUsageNs = BigInt(cpu);
  const memDir = join(ROOT, "memory", cgroupsPath);
  const usage = (await readText(join(memDir, "memory.usage_in_bytes")))?.trim();
  const mem = parseKeyed(await readText(join(memDir, "memory.stat")));
  if (usage) {
    out.memoryUsage = Number(usage);
    out.workingSet = Math.max(0, out.memoryUsage - (mem.get("total_inactive_file") ?? 0));
  }
  if (mem.has("total_rss")) out.rss = mem.get("total_rss") ?? 0;
  if (mem.has("total_pgfault")) out.pageFaults = mem.get("total_pgfault") ?? 0;
  if (mem.has("total_pgmajfault")) out.majorPageFaults = mem.get("total_pgmajfault") ?? 0;
  const limit = (await readText(join(memDir, "memory.limit_in_bytes")))?.trim();
  // v1 reports "no limit" as a huge page-aligned number.
  if (limit && Number(limit) < 2 ** 62) out.limit = Number(limit);
  const pids = (await readText(join(ROOT, "pids", cgroupsPath, "pids.current")))?.trim();
  if (pids) out.pids = Number(pids);
  return out;
}

/** True when the kernel OOM-killed a process of this cgroup. */
export async function cgroupOomKilled(mode: CgroupMode, cgroupsPath: string): Promise<boolean> {
  if (mode === "v2") {
    const events = parseKeyed(await readText(join(ROOT, cgroupsPath, "memory.events")));
    return (events.get("oom_kill") ?? 0) > 0;
  }
  const ctl = parseKeyed(await readText(join(ROOT, "memory", cgroupsPath, "memory.oom_control")));
  return (ctl.get("oom_kill") ?? 0) > 0;
}

let v1Hierarchies: string[] | undefined;
/**
 * Every hierarchy mounted under /sys/fs/cgroup (v1 controllers, "unified", or the v2 root). v1's set
 * is fixed once the host is up: read once (synchronously: cgroupfs answers from memory).
 */
export function hierarchies(mode: CgroupMode): string[] {
  if (mode === "v2") return [ROOT];
  if (v1Hierarchies) return v1Hierarchies;
  let names: string[] = [];
  try {
    names = readdirSync(ROOT);
  } catch {}
  const found = names.map((n) => join(ROOT, n)).filter((d) => existsSync(join(d, "cgroup.procs")));
  if (found.length > 0) v1Hierarchies = found;
  return found;
}

/**
 * Removes a cgroup (and its empty children, deepest first) from every
 * hierarchy. Used for the pod-level cgroup Servin creates; a cgroup that still
 * has processes stays and is reported, as does one still busy when `signal`
 * aborts (the EBUSY retries stop; a later removal finishes it).
 */
export async function removeCgroup(
  mode: CgroupMode,
  cgroupsPath: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const left: string[] = [];
  for (const h of hierarchies(mode)) {
    const dir = join(h, cgroupsPath);
    if (!existsSync(dir)) continue;
    const rmTree = async (d: string): Promise<void> => {
      const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory()) await rmTree(join(d, e.name));
      // EBUSY for a moment is normal: a conmon that just wrote its exit file
      // may still be exiting.
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(d);
          return;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === "ENOENT") return;
          if (code !== "EBUSY" || attempt >= 20 || signal?.aborted) {
            left.push(d);
            return;
          }
          await pause(100, signal);
        }
      }
    };
    await rmTree(dir);
  }
  return left;
}

/**
 * The hierarchies systemd tracks services by: the cgroup2 one (root on v2,
 * "unified" on hybrid) and the named "systemd" v1 hierarchy. Moving conmon
 * into the pod's cgroup there takes it out of the server's service cgroup, so
 * stopping the service (KillMode=control-group) does not kill the monitors of
 * running containers — CRI-O's conmon_cgroup="pod". Controller hierarchies
 * are left alone (a new v1 cpuset cgroup cannot even take a process).
 */
export async function trackingHierarchies(mode: CgroupMode): Promise<string[]> {
  if (mode === "v2") return [ROOT];
  return [join(ROOT, "unified"), join(ROOT, "systemd")].filter((d) => existsSync(join(d, "cgroup.procs")));
}

/** Creates `<cgroupsPath>` in the tracking hierarchies; returns the cgroup.procs files to write a pid to. */
export async function prepareMonitorCgroup(mode: CgroupMode, cgroupsPath: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of await trackingHierarchies(mode)) {
    const dir = join(h, cgroupsPath);
    try {
      await mkdir(dir, { recursive: true });
      out.push(join(dir, "cgroup.procs"));
    } catch {
      // Not fatal: conmon then stays in the server's cgroup.
    }
  }
  return out;
}
