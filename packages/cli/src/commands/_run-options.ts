/**
 * `servin run`'s flags read as docker, nerdctl and podman read them, into the CRI's pod and container
 * configs: -e/--env-file, -v, -p, --label, -u, --memory, --cpus. Pure: every bad value throws naming it.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type {
  KeyValue,
  LinuxContainerResources,
  LinuxContainerSecurityContext,
  Mount,
  PortMapping,
} from "@servin/cri-types";

/**
 * `-e K=V`, `-e K` (the value of K here, left out when K is unset, as docker does) and `--env-file`
 * lines (`#` comments and blank lines skipped), files first, then -e in order; a later K wins.
 *
 * @example
 * envsOf(["A=1", "B=x=y"], [], {}); // [{ key: "A", value: "1" }, { key: "B", value: "x=y" }]
 */
export function envsOf(env: string[], envFiles: string[], local: NodeJS.ProcessEnv): KeyValue[] {
  const out = new Map<string, string>();
  const add = (entry: string, where: string) => {
    const eq = entry.indexOf("=");
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (key === "" || /\s/.test(key)) throw new Error(`${where}: expected KEY=VALUE, got "${entry}"`);
    if (eq >= 0) out.set(key, entry.slice(eq + 1));
    else if (local[key] !== undefined) out.set(key, local[key]!);
  };
  for (const file of envFiles) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`--env-file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    text.split(/\r?\n/).forEach((line, i) => {
      const entry = line.trimStart();
      if (entry !== "" && !entry.startsWith("#")) add(entry, `--env-file ${file} line ${i + 1}`);
    });
  }
  for (const entry of env) add(entry, "--env");
  return [...out].map(([key, value]) => ({ key, value }));
}

/**
 * `-v HOST:CONTAINER[:ro|rw]`: the host path made absolute against `cwd` (the server runs on this host).
 *
 * @example
 * mountOf("/data:/mnt:ro", "/"); // { hostPath: "/data", containerPath: "/mnt", readonly: true }
 */
export function mountOf(spec: string, cwd: string): Mount {
  const parts = spec.split(":");
  const [host, container, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !host || !container)
    throw new Error(`--volume: expected HOST:CONTAINER[:ro], got "${spec}"`);
  if (mode !== undefined && mode !== "ro" && mode !== "rw")
    throw new Error(`--volume: expected mode ro or rw, got "${mode}" in "${spec}"`);
  if (!isAbsolute(container))
    throw new Error(`--volume: container path must be absolute, got "${container}"`);
  if (!host.startsWith("/") && !host.startsWith("."))
    throw new Error(`--volume: named volumes are not supported, give a host path (got "${host}")`);
  return {
    hostPath: resolve(cwd, host),
    containerPath: container,
    ...(mode === "ro" ? { readonly: true } : {}),
  };
}

/**
 * `-p [IP:]HOST:CONTAINER[/tcp|udp|sctp]` (or `-p CONTAINER`, which docker maps to a random port and
 * the CRI cannot: refused) as a pod port mapping; CNI's portmap plugin does the forwarding.
 *
 * @example
 * portMappingOf("127.0.0.1:8080:80/tcp"); // { protocol: "TCP", hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80 }
 */
export function portMappingOf(spec: string): PortMapping {
  const [address, proto = "tcp", extra] = spec.split("/");
  if (extra !== undefined || !/^(tcp|udp|sctp)$/i.test(proto))
    throw new Error(`--publish: expected protocol tcp, udp or sctp, got "${proto}" in "${spec}"`);
  // an IPv6 host IP is written in brackets: [::1]:8080:80
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d+):(\d+)$/.exec(address!);
  if (!m) throw new Error(`--publish: expected [IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL], got "${spec}"`);
  const port = (text: string) => {
    const n = Number(text);
    if (n < 1 || n > 65535) throw new Error(`--publish: port ${text} out of range 1-65535 in "${spec}"`);
    return n;
  };
  return {
    protocol: proto.toUpperCase() as "TCP" | "UDP" | "SCTP",
    ...(m[1] ? { hostIp: m[1].replace(/^\[|\]$/g, "") } : {}),
    hostPort: port(m[2]!),
    containerPort: port(m[3]!),
  };
}

/**
 * `--label K=V` (repeatable; `K` alone is an empty value, as docker does).
 *
 * @example
 * labelsOf(["app=web", "tier"]); // { app: "web", tier: "" }
 */
export function labelsOf(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf("=");
    const key = eq < 0 ? label : label.slice(0, eq);
    if (key === "") throw new Error(`--label: expected KEY=VALUE, got "${label}"`);
    out[key] = eq < 0 ? "" : label.slice(eq + 1);
  }
  return out;
}

/**
 * `-u USER[:GROUP]`: numbers become run_as_user/run_as_group, a name run_as_username (a group name
 * has no CRI field: refused).
 *
 * @example
 * userOf("1000:100"); // { runAsUser: { value: 1000 }, runAsGroup: { value: 100 } }
 */
export function userOf(spec: string): LinuxContainerSecurityContext {
  const [user, group, extra] = spec.split(":");
  if (!user || extra !== undefined || group === "")
    throw new Error(`--user: expected USER[:GROUP], got "${spec}"`);
  const out: LinuxContainerSecurityContext = /^\d+$/.test(user)
    ? { runAsUser: { value: Number(user) } }
    : { runAsUsername: user };
  if (group !== undefined) {
    if (!/^\d+$/.test(group)) throw new Error(`--user: the group must be a number (gid), got "${group}"`);
    out.runAsGroup = { value: Number(group) };
  }
  return out;
}

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * `--memory 512m` and `--cpus 1.5` as Linux resources (CFS period 100 ms, quota = cpus × period).
 *
 * @example
 * resourcesOf("256m", "0.5"); // { memoryLimitInBytes: 268435456, cpuPeriod: 100000, cpuQuota: 50000 }
 */
export function resourcesOf(memory?: string, cpus?: string): LinuxContainerResources | undefined {
  const out: LinuxContainerResources = {};
  if (memory !== undefined) {
    const m = /^(\d+)([bkmg]?)$/i.exec(memory);
    const bytes = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : Number.NaN;
    if (!m || !Number.isSafeInteger(bytes) || bytes < 6 * 1024 ** 2)
      throw new Error(`--memory: expected a size of at least 6m (like 512m or 1g), got "${memory}"`);
    out.memoryLimitInBytes = bytes;
  }
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (!/^\d+(\.\d+)?$/.test(cpus) || !(n > 0) || n > 1024)
      throw new Error(`--cpus: expected a number of CPUs like 0.5 or 2, got "${cpus}"`);
    out.cpuPeriod = 100_000;
    out.cpuQuota = Math.round(n * 100_000);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The exit code docker gives when a container's process cannot start: 127 not found, 126 not
 * executable, 125 anything else (a failure of servin's).
 *
 * @example
 * startFailureCode('exec: "nope": executable file not found in $PATH'); // 127
 */
export function startFailureCode(message: string): 125 | 126 | 127 {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied|exec format error/i.test(message)) return 126;
  return 125;
}
