/**
 * Size and range rules of CRI request fields, checked once while decoding so
 * that the HTTP and gRPC transports share them: Kubernetes' own limits where
 * the clients that exist keep to them, looser bounds (with the reason) where
 * they do not, and the kernel's rules for values that reach runc.
 */
import type { KeyValue } from "@servin/cri-types";
import { checked, type Field } from "../_schema.js";

/** Kubernetes DNS subdomain (pod names, label/annotation key prefixes). */
export const DNS_SUBDOMAIN_MAX = 253;
/** Kubernetes DNS label (namespaces) and the name part of a label or annotation key. */
export const DNS_LABEL_MAX = 63;
/**
 * Label values. Kubernetes allows 63, but kubelet puts the pod name (a DNS
 * subdomain, up to 253) into the `io.kubernetes.pod.name` label of every
 * sandbox and container, so 63 would reject real pods.
 */
export const LABEL_VALUE_MAX = DNS_SUBDOMAIN_MAX;
/**
 * All annotations of one object, keys and values, in bytes. Kubernetes caps a
 * pod's at 256 KiB; kubelet passes them to RunPodSandbox and adds its own
 * (`kubernetes.io/config.*`; on containers the hash, ports and preStop JSON),
 * so a pod at the limit would exceed it: twice Kubernetes' limit leaves room.
 */
export const ANNOTATIONS_MAX_BYTES = 512 * 1024;
/** Linux MAX_ARG_STRLEN (32 pages, the NUL included): longer single argv/env strings fail execve with E2BIG. */
export const ARG_STRLEN_MAX = 32 * 4096;
/**
 * argv, and separately the environment, in bytes. The kernel allows argv and
 * env together a quarter of the stack limit (2 MiB at the usual 8 MiB): half
 * of that for each keeps servin's own spawns clear of E2BIG.
 */
export const ARGV_MAX_BYTES = 1024 * 1024;
/** Linux PATH_MAX, NUL included. */
export const PATH_MAX = 4096;
/** CRI-O's minimum memory limit (runc and the kernel fail below what the container already uses). */
export const MEMORY_LIMIT_MIN = 12 * 1024 * 1024;

type Report = (message: string, at?: string | number) => void;

const bytes = (s: string) => Buffer.byteLength(s, "utf8");

/** A string of at most `max` characters. */
export const maxChars = <O extends boolean>(
  f: Field<"string", O>,
  max: number,
  why = "",
): Field<"string", O> =>
  checked(f, (value: string, report: Report) => {
    if (value.length > max) report(`must be at most ${max} characters${why} (got ${value.length})`);
  });

/** A filesystem path: shorter than PATH_MAX. */
export const path = <O extends boolean>(f: Field<"string", O>): Field<"string", O> =>
  checked(f, (value: string, report: Report) => {
    if (bytes(value) >= PATH_MAX) report(`must be shorter than ${PATH_MAX} bytes (PATH_MAX)`);
  });

/** A list of paths. */
export const paths = <O extends boolean>(f: Field<{ list: "string" }, O>): Field<{ list: "string" }, O> =>
  checked(f, (value: string[], report: Report) => {
    value.forEach((p, i) => {
      if (bytes(p) >= PATH_MAX) report(`must be shorter than ${PATH_MAX} bytes (PATH_MAX)`, i);
    });
  });

/** Argument vectors (command, args, exec cmd): each string under MAX_ARG_STRLEN, the whole under ARGV_MAX_BYTES. */
export const argv = <O extends boolean>(f: Field<{ list: "string" }, O>): Field<{ list: "string" }, O> =>
  checked(f, (value: string[], report: Report) => {
    let total = 0;
    value.forEach((arg, i) => {
      const n = bytes(arg) + 1;
      total += n;
      if (n > ARG_STRLEN_MAX) report(`must be shorter than ${ARG_STRLEN_MAX} bytes (MAX_ARG_STRLEN)`, i);
    });
    if (total > ARGV_MAX_BYTES) report(`must total at most ${ARGV_MAX_BYTES} bytes (got ${total})`);
  });

/** Environment variables: each `key=value` under MAX_ARG_STRLEN, all under ARGV_MAX_BYTES, no `=` in a key. */
type EnvList = { list: { message: KeyValue } };
export const envs = <O extends boolean>(f: Field<EnvList, O>): Field<EnvList, O> =>
  checked(f, (value: KeyValue[], report: Report) => {
    let total = 0;
    value.forEach((kv, i) => {
      const n = bytes(kv.key) + bytes(kv.value) + 2;
      total += n;
      if (n > ARG_STRLEN_MAX)
        report(`key=value must be shorter than ${ARG_STRLEN_MAX} bytes (MAX_ARG_STRLEN)`, i);
      else if (kv.key.includes("=")) report(`key must not contain "="`, i);
    });
    if (total > ARGV_MAX_BYTES) report(`must total at most ${ARGV_MAX_BYTES} bytes (got ${total})`);
  });

/** Kubernetes' qualified-name sizes: an optional DNS-subdomain prefix and "/", then a name of at most 63. */
function keyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash < 0 ? "" : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix.length > DNS_SUBDOMAIN_MAX)
    return `key prefix (before "/") must be at most ${DNS_SUBDOMAIN_MAX} characters`;
  if (name.length > DNS_LABEL_MAX)
    return `key name (after an optional prefix and "/") must be at most ${DNS_LABEL_MAX} characters`;
  return undefined;
}

/** Labels (and label selectors): Kubernetes key sizes, values up to LABEL_VALUE_MAX. */
export const labels = <O extends boolean>(f: Field<"map", O>): Field<"map", O> =>
  checked(f, (value: Record<string, string>, report: Report) => {
    for (const key of Object.keys(value)) {
      const problem = keyProblem(key);
      if (problem) report(problem, key);
      else if (value[key]!.length > LABEL_VALUE_MAX)
        report(`value must be at most ${LABEL_VALUE_MAX} characters`, key);
    }
  });

/** Annotations: Kubernetes key sizes, all keys and values together at most ANNOTATIONS_MAX_BYTES. */
export const annotations = <O extends boolean>(f: Field<"map", O>): Field<"map", O> =>
  checked(f, (value: Record<string, string>, report: Report) => {
    let total = 0;
    for (const key of Object.keys(value)) {
      const problem = keyProblem(key);
      if (problem) report(problem, key);
      total += bytes(key) + bytes(value[key]!);
    }
    if (total > ANNOTATIONS_MAX_BYTES)
      report(`must total at most ${ANNOTATIONS_MAX_BYTES} bytes, keys and values (got ${total})`);
  });

/** resolv.conf entries: one line each (a newline would add directives of the client's choosing). */
export const resolvEntries = <O extends boolean>(
  f: Field<{ list: "string" }, O>,
): Field<{ list: "string" }, O> =>
  checked(f, (value: string[], report: Report) => {
    value.forEach((entry, i) => {
      if (/[\r\n]/.test(entry)) report("must not contain a line break", i);
      else if (entry.length > 1024) report("must be at most 1024 characters", i);
    });
  });

/** An integer field allowed only `0` (unset) or the listed values/ranges. */
export const oneOfRanges = <O extends boolean>(
  f: Field<"number", O>,
  ranges: readonly (readonly [number, number])[],
  expects: string,
): Field<"number", O> =>
  checked(f, (value: number, report: Report) => {
    if (value === 0) return;
    if (!ranges.some(([lo, hi]) => value >= lo && value <= hi)) report(`${expects} (got ${value})`);
  });

const CPUSET = /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/;

/** A cpuset list such as `0-3,5`: what runc writes to cpuset.cpus / cpuset.mems. */
export const cpuset = <O extends boolean>(f: Field<"string", O>): Field<"string", O> =>
  checked(f, (value: string, report: Report) => {
    if (value !== "" && (value.length > 4096 || !CPUSET.test(value)))
      report(`expected a cpuset list such as "0-3,5"`);
  });

/** cgroup v2 `unified` entries: each key a file name in the container's cgroup, never a path out of it. */
export const cgroupFiles = <O extends boolean>(f: Field<"map", O>): Field<"map", O> =>
  checked(f, (value: Record<string, string>, report: Report) => {
    for (const key of Object.keys(value)) {
      if (key === "" || key === "." || key === ".." || key.includes("/") || key.length > 255)
        report('key must be a cgroup file name (no "/", not "." or "..")', key);
    }
  });
