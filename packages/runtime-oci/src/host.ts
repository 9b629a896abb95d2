/** Detects whether this host can run the OCI backend: root, conmon, runc/crun, catatonit, cgroup layout, overlayfs. */
import { accessSync, constants, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { detectCgroupMode } from "./_cgroups.js";
import type { CgroupMode } from "./spec/resources.js";

export interface RuntimeHandlerInfo {
  name: string;
  path: string;
  /** False when the binary is missing or cannot work on this host. */
  ok: boolean;
  problem?: string;
}

export interface OciHostReport {
  /** True when the default runtime, conmon and the pause binary are usable as root. */
  ok: boolean;
  /** Human-readable reasons, one per problem (empty when ok). */
  problems: string[];
  runtimes: RuntimeHandlerInfo[];
  cgroupMode: CgroupMode;
  conmonPath?: string;
  pausePath?: string;
  overlay: boolean;
}

export interface DetectOptions {
  runtimes?: Record<string, { path: string; root?: string }>;
  defaultRuntime?: string;
  conmonPath?: string;
  pausePath?: string;
}

const EXTRA_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Finds an executable on PATH (plus the sbin dirs, which a non-login root shell may lack). */
export function findExecutable(name: string): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...EXTRA_PATH];
  for (const d of dirs) {
    const p = join(d, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The runtime handlers Servin configures when none are given: runc, and crun when installed. */
export function defaultRuntimes(): Record<string, { path: string; root?: string }> {
  const out: Record<string, { path: string; root?: string }> = {};
  out.runc = { path: findExecutable("runc") ?? "/usr/sbin/runc" };
  const crun = findExecutable("crun");
  if (crun) out.crun = { path: crun };
  return out;
}

/**
 * Why a runtime binary cannot work here, if it cannot. crun (≤1.8 at least)
 * refuses hybrid hosts outright ("cgroups in hybrid mode not supported"), so
 * we say so before anyone tries to run a pod with it.
 */
export function runtimeProblem(name: string, path: string, mode: CgroupMode): string | undefined {
  if (!existsSync(path)) return `${path} not found (install ${name})`;
  if (!isExecutable(path)) return `${path} is not executable`;
  const isCrun = name === "crun" || path.endsWith("/crun");
  if (isCrun && mode === "hybrid") {
    return 'crun refuses hybrid cgroups ("cgroups in hybrid mode not supported"): this host mounts cgroup v1 controllers plus a cgroup2 hierarchy that holds controllers; use runc';
  }
  return undefined;
}

/**
 * @example
 * const host = await detectOciHost();
 * if (!host.ok) console.error(host.problems.join("\n"));
 */
export async function detectOciHost(opts: DetectOptions = {}): Promise<OciHostReport> {
  const problems: string[] = [];
  if (process.platform !== "linux")
    problems.push(`the OCI backend needs Linux (this is ${process.platform})`);
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    problems.push("the OCI backend must run as root (rootless containers are not supported)");
  }
  const cgroupMode = await detectCgroupMode();
  const configured = opts.runtimes ?? defaultRuntimes();
  const runtimes: RuntimeHandlerInfo[] = Object.entries(configured).map(([name, r]) => {
    const problem = runtimeProblem(name, r.path, cgroupMode);
    return problem ? { name, path: r.path, ok: false, problem } : { name, path: r.path, ok: true };
  });
  const defaultName = opts.defaultRuntime ?? "runc";
  const def = runtimes.find((r) => r.name === defaultName);
  if (!def) problems.push(`default runtime handler "${defaultName}" is not configured`);
  else if (!def.ok) problems.push(`default runtime handler "${defaultName}": ${def.problem}`);

  const conmonPath = opts.conmonPath ?? findExecutable("conmon");
  if (!conmonPath || !isExecutable(conmonPath))
    problems.push("conmon not found (install the conmon package)");
  const pausePath = opts.pausePath ?? findExecutable("catatonit");
  if (!pausePath || !existsSync(pausePath))
    problems.push("catatonit not found (install the catatonit package)");
  const filesystems = await readFile("/proc/filesystems", "utf8").catch(() => "");
  const overlay = /\boverlay\b/.test(filesystems);

  const report: OciHostReport = { ok: problems.length === 0, problems, runtimes, cgroupMode, overlay };
  if (conmonPath) report.conmonPath = conmonPath;
  if (pausePath) report.pausePath = pausePath;
  return report;
}
