/** The CRI v1 enums, value names in proto number order (numbers are accepted on input). */
import type { EnumDef } from "./_schema.js";

function enumDef(name: string, values: readonly string[], alias?: EnumDef["alias"]): EnumDef {
  return { name, values, expects: `one of ${values.join(", ")}`, ...(alias ? { alias } : {}) };
}

export const PodSandboxStateEnum = enumDef("PodSandboxState", ["SANDBOX_READY", "SANDBOX_NOTREADY"]);
export const ContainerStateEnum = enumDef("ContainerState", [
  "CONTAINER_CREATED",
  "CONTAINER_RUNNING",
  "CONTAINER_EXITED",
  "CONTAINER_UNKNOWN",
]);
export const MountPropagationEnum = enumDef("MountPropagation", [
  "PROPAGATION_PRIVATE",
  "PROPAGATION_HOST_TO_CONTAINER",
  "PROPAGATION_BIDIRECTIONAL",
]);
export const NamespaceModeEnum = enumDef("NamespaceMode", ["POD", "CONTAINER", "NODE", "TARGET"]);
export const ProtocolEnum = enumDef("Protocol", ["TCP", "UDP", "SCTP"]);
export const ContainerEventTypeEnum = enumDef("ContainerEventType", [
  "CONTAINER_CREATED_EVENT",
  "CONTAINER_STARTED_EVENT",
  "CONTAINER_STOPPED_EVENT",
  "CONTAINER_DELETED_EVENT",
]);
export const ProfileTypeEnum = enumDef("SecurityProfile.ProfileType", [
  "RuntimeDefault",
  "Unconfined",
  "Localhost",
]);
export const CgroupDriverEnum = enumDef("CgroupDriver", ["SYSTEMD", "CGROUPFS"]);
export const MetricTypeEnum = enumDef("MetricType", ["COUNTER", "GAUGE"]);
export const SupplementalGroupsPolicyEnum = enumDef("SupplementalGroupsPolicy", ["Merge", "Strict"]);

// The CRI Signal enum (KEP-4960): RUNTIME_DEFAULT, the named Linux signals in
// alphabetical order, then the real-time ones from SIGRTMIN up to SIGRTMAX.
const NAMED_SIGNALS = [
  "SIGABRT",
  "SIGALRM",
  "SIGBUS",
  "SIGCHLD",
  "SIGCLD",
  "SIGCONT",
  "SIGFPE",
  "SIGHUP",
  "SIGILL",
  "SIGINT",
  "SIGIO",
  "SIGIOT",
  "SIGKILL",
  "SIGPIPE",
  "SIGPOLL",
  "SIGPROF",
  "SIGPWR",
  "SIGQUIT",
  "SIGSEGV",
  "SIGSTKFLT",
  "SIGSTOP",
  "SIGSYS",
  "SIGTERM",
  "SIGTRAP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGUSR1",
  "SIGUSR2",
  "SIGVTALRM",
  "SIGWINCH",
  "SIGXCPU",
  "SIGXFSZ",
];
const REALTIME_SIGNALS = [
  "SIGRTMIN",
  ...Array.from({ length: 15 }, (_, i) => `SIGRTMINPLUS${i + 1}`),
  ...Array.from({ length: 14 }, (_, i) => `SIGRTMAXMINUS${14 - i}`),
  "SIGRTMAX",
];
const SIGNAL_VALUES = ["RUNTIME_DEFAULT", ...NAMED_SIGNALS, ...REALTIME_SIGNALS];
const SIGNAL_SET = new Set(SIGNAL_VALUES);

/**
 * Accepts the spellings images and users write (`SIGRTMIN+3`, `SIGRTMAX-1`,
 * `TERM`, `sigterm`) for the enum's value names.
 */
function signalAlias(input: string): string | undefined {
  let s = input.trim().toUpperCase();
  if (!s.startsWith("SIG") && s !== "RUNTIME_DEFAULT") s = `SIG${s}`;
  s = s.replace(/^SIGRTMIN\+(\d+)$/, "SIGRTMINPLUS$1").replace(/^SIGRTMAX-(\d+)$/, "SIGRTMAXMINUS$1");
  return SIGNAL_SET.has(s) ? s : undefined;
}

export const SignalEnum: EnumDef = {
  name: "Signal",
  values: SIGNAL_VALUES,
  expects: "a signal name such as SIGTERM, SIGKILL or SIGRTMIN+1",
  alias: signalAlias,
};
