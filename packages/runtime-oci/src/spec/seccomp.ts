/**
 * Seccomp for CRI containers and pods: which profile the security context
 * asks for (containerd's rules), the RuntimeDefault profile generated from a
 * container's capabilities and the host architecture, and the validation of
 * Localhost profile files.
 */
import { release } from "node:os";
import { CriError, type SecurityProfile } from "@servin/cri-types";
import {
  RUNTIME_DEFAULT_TEMPLATE,
  type SeccompCondition,
  type SeccompRuleTemplate,
  type SeccompTemplate,
} from "./seccomp-default.js";
import type { OciSeccomp, OciSeccompArg, OciSyscallRule } from "./types.js";

/** What the security context asked for, after containerd's defaulting. */
export type SeccompChoice =
  | { type: "Unconfined"; reason: "privileged" | "unconfined" | "unset" }
  | { type: "RuntimeDefault" }
  | { type: "Localhost"; path: string };

/** The part of a container's or a pod's Linux security context that decides seccomp. */
export interface SeccompSecurityContext {
  privileged?: boolean;
  seccomp?: SecurityProfile;
  seccompProfilePath?: string;
}

/** The host facts a profile depends on. */
export interface SeccompHost {
  /** Node's `process.arch` ("x64", "arm64", …). */
  arch: string;
  /** `uname -r`, e.g. "6.1.0-13-amd64". */
  kernel: string;
}

export const currentSeccompHost = (): SeccompHost => ({ arch: process.arch, kernel: release() });

const LOCALHOST_PREFIX = "localhost/";

/**
 * Picks the profile as containerd's CRI plugin does: privileged → none; the
 * `seccomp` field wins; else the deprecated `seccomp_profile_path`
 * ("runtime/default", "docker/default", "unconfined", "localhost/<path>");
 * neither → unconfined (containerd's `unset_seccomp_profile` default — kubelet
 * sends RuntimeDefault explicitly when a pod asks for it). A `seccomp` message
 * without `profile_type` is the proto3 zero value, RuntimeDefault.
 *
 * @example
 * chooseSeccompProfile({ seccomp: { profileType: "RuntimeDefault" } }, "container \"web\""); // { type: "RuntimeDefault" }
 * chooseSeccompProfile({ seccompProfilePath: "localhost/p.json" }, "x"); // { type: "Localhost", path: "p.json" }
 */
export function chooseSeccompProfile(
  security: SeccompSecurityContext | undefined,
  what: string,
): SeccompChoice {
  if (security?.privileged === true) return { type: "Unconfined", reason: "privileged" };
  const sp = security?.seccomp;
  if (sp) {
    const type = sp.profileType ?? "RuntimeDefault";
    const ref = sp.localhostRef ?? "";
    if (type !== "Localhost" && ref !== "") {
      throw CriError.invalidArgument(
        `${what}: seccomp.localhost_ref "${ref}" is only allowed with profile_type Localhost (got ${type})`,
      );
    }
    switch (type) {
      case "Unconfined":
        return { type: "Unconfined", reason: "unconfined" };
      case "RuntimeDefault":
        return { type: "RuntimeDefault" };
      case "Localhost": {
        const path = ref.startsWith(LOCALHOST_PREFIX) ? ref.slice(LOCALHOST_PREFIX.length) : ref;
        if (path === "")
          throw CriError.invalidArgument(`${what}: seccomp profile_type Localhost needs a localhost_ref`);
        return { type: "Localhost", path };
      }
      default:
        throw CriError.invalidArgument(`${what}: seccomp.profile_type "${String(type)}" is not known`);
    }
  }
  const path = security?.seccompProfilePath ?? "";
  switch (path) {
    case "":
      return { type: "Unconfined", reason: "unset" };
    case "runtime/default":
    case "docker/default":
      return { type: "RuntimeDefault" };
    case "unconfined":
      return { type: "Unconfined", reason: "unconfined" };
    default:
      if (!path.startsWith(LOCALHOST_PREFIX) || path === LOCALHOST_PREFIX) {
        throw CriError.invalidArgument(
          `${what}: seccomp_profile_path "${path}" is not one of "runtime/default", "docker/default", "unconfined", "localhost/<path>"`,
        );
      }
      return { type: "Localhost", path: path.slice(LOCALHOST_PREFIX.length) };
  }
}

/** Node's arch → Go's name (the profile's `arches`) and the libseccomp architectures a filter must cover. */
const ARCHES: Record<string, { go: string; scmp: string[] }> = {
  // 64-bit x86 kernels also run i386 and x32 binaries: a filter that only
  // covered x86_64 would let them through with the other calling conventions.
  x64: { go: "amd64", scmp: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
  arm64: { go: "arm64", scmp: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"] },
  ia32: { go: "386", scmp: ["SCMP_ARCH_X86"] },
  arm: { go: "arm", scmp: ["SCMP_ARCH_ARM"] },
  s390x: { go: "s390x", scmp: ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"] },
  ppc64: { go: "ppc64le", scmp: ["SCMP_ARCH_PPC64LE"] },
  riscv64: { go: "riscv64", scmp: ["SCMP_ARCH_RISCV64"] },
  mips64el: { go: "mips64le", scmp: ["SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"] },
};

/**
 * The libseccomp architectures a profile covers on a host (empty for an
 * unknown one: runc then filters the native architecture only).
 *
 * @example
 * seccompArchitectures("x64"); // ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
 */
export function seccompArchitectures(arch: string): string[] {
  return [...(ARCHES[arch]?.scmp ?? [])];
}

/** "6.1.0-13-amd64" → [6, 1]. */
function kernelVersion(v: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function kernelAtLeast(kernel: string, min: string): boolean {
  const [a, b] = kernelVersion(kernel);
  const [x, y] = kernelVersion(min);
  return a > x || (a === x && b >= y);
}

interface RenderContext {
  caps: ReadonlySet<string>;
  goArch: string;
  kernel: string;
}

function includes(c: SeccompCondition | undefined, ctx: RenderContext): boolean {
  if (!c) return true;
  if (c.caps && !c.caps.every((cap) => ctx.caps.has(cap))) return false;
  if (c.arches && c.arches.length > 0 && !c.arches.includes(ctx.goArch)) return false;
  if (c.minKernel && !kernelAtLeast(ctx.kernel, c.minKernel)) return false;
  return true;
}

function excluded(c: SeccompCondition | undefined, ctx: RenderContext): boolean {
  if (!c) return false;
  if (c.caps?.some((cap) => ctx.caps.has(cap))) return true;
  if (c.arches?.includes(ctx.goArch)) return true;
  if (c.minKernel && kernelAtLeast(ctx.kernel, c.minKernel)) return true;
  return false;
}

/** A template with the host's architectures where the file names none; see `parseSeccompProfile`. */
export interface SeccompProfileFile extends SeccompTemplate {
  architectures?: string[];
  archMap?: { architecture: string; subArchitectures?: string[] | null }[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
}

/**
 * A template made concrete for one container: rules whose conditions hold
 * (capabilities from the bounding set, host architecture and kernel), and the
 * architectures to cover.
 *
 * @example
 * const seccomp = renderSeccompProfile(RUNTIME_DEFAULT_TEMPLATE, caps, currentSeccompHost());
 */
export function renderSeccompProfile(
  template: SeccompProfileFile,
  capabilities: readonly string[],
  host: SeccompHost,
): OciSeccomp {
  const ctx: RenderContext = {
    caps: new Set(capabilities),
    goArch: ARCHES[host.arch]?.go ?? host.arch,
    kernel: host.kernel,
  };
  const syscalls: OciSyscallRule[] = [];
  for (const rule of template.syscalls) {
    if (!includes(rule.includes, ctx) || excluded(rule.excludes, ctx)) continue;
    const out: OciSyscallRule = { names: [...rule.names], action: rule.action };
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    if (rule.args && rule.args.length > 0) out.args = rule.args.map((a) => ({ ...a }));
    syscalls.push(out);
  }
  const seccomp: OciSeccomp = { defaultAction: template.defaultAction };
  if (template.defaultErrnoRet !== undefined) seccomp.defaultErrnoRet = template.defaultErrnoRet;
  const architectures = template.architectures?.length
    ? [...template.architectures]
    : template.archMap
      ? archFromMap(template.archMap, host.arch)
      : seccompArchitectures(host.arch);
  if (architectures.length > 0) seccomp.architectures = architectures;
  if (template.flags?.length) seccomp.flags = [...template.flags];
  if (template.listenerPath) seccomp.listenerPath = template.listenerPath;
  if (template.listenerMetadata) seccomp.listenerMetadata = template.listenerMetadata;
  seccomp.syscalls = syscalls;
  return seccomp;
}

function archFromMap(map: NonNullable<SeccompProfileFile["archMap"]>, arch: string): string[] {
  const native = ARCHES[arch]?.scmp[0];
  const entry = map.find((e) => e.architecture === native);
  return entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
}

/**
 * The RuntimeDefault profile for a container with these (bounding) capabilities.
 *
 * @example
 * defaultSeccompProfile(["CAP_CHOWN"], { arch: "x64", kernel: "6.1.0" }).defaultErrnoRet; // 1 (EPERM)
 */
export function defaultSeccompProfile(
  capabilities: readonly string[],
  host: SeccompHost = currentSeccompHost(),
): OciSeccomp {
  return renderSeccompProfile(RUNTIME_DEFAULT_TEMPLATE, capabilities, host);
}

const ACTIONS = new Set([
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
]);
const OPS = new Set([
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

/**
 * Validates a Localhost profile file: an OCI `LinuxSeccomp` object (what
 * containerd accepts), optionally with moby's extensions (`archMap`,
 * per-rule `includes` / `excludes`, the old single `name`), which are honoured
 * rather than silently dropped. Throws InvalidArgument naming the file and field.
 *
 * @example
 * parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW"}', "/etc/seccomp/allow.json");
 */
export function parseSeccompProfile(text: string, path: string): SeccompProfileFile {
  const bad = (field: string, why: string) =>
    CriError.invalidArgument(`seccomp profile "${path}": ${field}: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw CriError.invalidArgument(
      `seccomp profile "${path}": not valid JSON (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  if (!isObject(raw)) throw bad("(root)", "expected a JSON object (an OCI LinuxSeccomp)");
  const { defaultAction, defaultErrnoRet, architectures, archMap, flags, listenerPath, listenerMetadata } =
    raw;
  if (typeof defaultAction !== "string" || !ACTIONS.has(defaultAction))
    throw bad("defaultAction", `expected one of ${[...ACTIONS].join(", ")}`);
  const out: SeccompProfileFile = { defaultAction, syscalls: [] };
  if (defaultErrnoRet != null) {
    if (!isUint(defaultErrnoRet)) throw bad("defaultErrnoRet", "expected a non-negative integer");
    out.defaultErrnoRet = defaultErrnoRet;
  }
  if (architectures != null) {
    if (!isStrings(architectures) || architectures.some((a) => !a.startsWith("SCMP_ARCH_")))
      throw bad("architectures", 'expected an array of "SCMP_ARCH_*" names');
    out.architectures = architectures;
  }
  if (archMap != null) {
    if (
      !Array.isArray(archMap) ||
      !archMap.every(
        (e) =>
          isObject(e) &&
          typeof e.architecture === "string" &&
          (e.subArchitectures == null || isStrings(e.subArchitectures)),
      )
    )
      throw bad("archMap", "expected [{ architecture, subArchitectures }]");
    out.archMap = archMap as SeccompProfileFile["archMap"];
  }
  if (flags != null) {
    if (!isStrings(flags)) throw bad("flags", "expected an array of strings");
    out.flags = flags;
  }
  if (listenerPath != null) {
    if (typeof listenerPath !== "string") throw bad("listenerPath", "expected a string");
    out.listenerPath = listenerPath;
  }
  if (listenerMetadata != null) {
    if (typeof listenerMetadata !== "string") throw bad("listenerMetadata", "expected a string");
    out.listenerMetadata = listenerMetadata;
  }
  const syscalls = raw.syscalls ?? [];
  if (!Array.isArray(syscalls)) throw bad("syscalls", "expected an array");
  syscalls.forEach((r: unknown, i: number) => {
    out.syscalls.push(parseRule(r, `syscalls[${i}]`, bad));
  });
  return out;
}

function parseRule(
  r: unknown,
  at: string,
  bad: (field: string, why: string) => CriError,
): SeccompRuleTemplate {
  if (!isObject(r)) throw bad(at, "expected an object");
  const names = r.names != null ? r.names : typeof r.name === "string" ? [r.name] : undefined;
  if (!isStrings(names) || names.length === 0 || names.some((n) => n === ""))
    throw bad(`${at}.names`, "expected a non-empty array of syscall names");
  if (typeof r.action !== "string" || !ACTIONS.has(r.action))
    throw bad(`${at}.action`, `expected one of ${[...ACTIONS].join(", ")}`);
  const rule: SeccompRuleTemplate = { names, action: r.action };
  if (r.errnoRet != null) {
    if (!isUint(r.errnoRet)) throw bad(`${at}.errnoRet`, "expected a non-negative integer");
    rule.errnoRet = r.errnoRet;
  }
  if (r.args != null) {
    if (!Array.isArray(r.args)) throw bad(`${at}.args`, "expected an array");
    rule.args = r.args.map((a: unknown, j: number): OciSeccompArg => {
      const where = `${at}.args[${j}]`;
      if (!isObject(a)) throw bad(where, "expected an object");
      if (!isUint(a.index) || a.index > 5) throw bad(`${where}.index`, "expected an argument index 0-5");
      if (!isUint(a.value)) throw bad(`${where}.value`, "expected a non-negative integer");
      if (a.valueTwo != null && !isUint(a.valueTwo))
        throw bad(`${where}.valueTwo`, "expected a non-negative integer");
      if (typeof a.op !== "string" || !OPS.has(a.op))
        throw bad(`${where}.op`, `expected one of ${[...OPS].join(", ")}`);
      const arg: OciSeccompArg = { index: a.index, value: a.value, op: a.op };
      if (a.valueTwo != null) arg.valueTwo = a.valueTwo as number;
      return arg;
    });
  }
  for (const key of ["includes", "excludes"] as const) {
    const c = r[key];
    if (c == null) continue;
    if (
      !isObject(c) ||
      (c.caps != null && !isStrings(c.caps)) ||
      (c.arches != null && !isStrings(c.arches)) ||
      (c.minKernel != null && typeof c.minKernel !== "string")
    )
      throw bad(`${at}.${key}`, "expected { caps?: string[], arches?: string[], minKernel?: string }");
    rule[key] = c as SeccompCondition;
  }
  return rule;
}

/**
 * The `linux.seccomp` of a spec, or undefined for unconfined. Pure: a
 * Localhost file must have been loaded by the caller (`localhostSeccomp`).
 *
 * @example
 * seccompForSpec({ seccomp: { profileType: "RuntimeDefault" } }, caps, 'container "web"', {});
 */
export function seccompForSpec(
  security: SeccompSecurityContext | undefined,
  capabilities: readonly string[],
  what: string,
  opts: { localhostSeccomp?: SeccompProfileFile; seccompHost?: SeccompHost },
): OciSeccomp | undefined {
  const choice = chooseSeccompProfile(security, what);
  const host = opts.seccompHost ?? currentSeccompHost();
  switch (choice.type) {
    case "Unconfined":
      return undefined;
    case "RuntimeDefault":
      return renderSeccompProfile(RUNTIME_DEFAULT_TEMPLATE, capabilities, host);
    case "Localhost":
      if (!opts.localhostSeccomp) {
        throw CriError.internal(`${what}: seccomp localhost profile "${choice.path}" was not loaded`);
      }
      return renderSeccompProfile(opts.localhostSeccomp, capabilities, host);
  }
}

/**
 * How status and verbose info name the profile in use: the CRI's own
 * spellings ("runtime/default", "unconfined", "localhost/<path>").
 *
 * @example
 * seccompProfileName({ type: "RuntimeDefault" }); // "runtime/default"
 */
export function seccompProfileName(choice: SeccompChoice): string {
  switch (choice.type) {
    case "RuntimeDefault":
      return "runtime/default";
    case "Localhost":
      return `${LOCALHOST_PREFIX}${choice.path}`;
    case "Unconfined":
      return choice.reason === "privileged" ? "unconfined (privileged)" : "unconfined";
  }
}
