/** What the memory backend's simulated processes do: the argv they run, how they end, what exec prints. */
import { constants } from "node:os";
import type { ContainerConfig, ExecSyncResponse, RuntimeImage } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";

/** The argv a container runs, by kubelet's rules: command replaces ENTRYPOINT, args replace CMD. */
export function containerArgv(config: ContainerConfig, image: RuntimeImage): string[] {
  const entrypoint = config.command?.length ? config.command : (image.config.entrypoint ?? []);
  // An explicit command drops the image's CMD unless args are given (Kubernetes' documented rule).
  const cmd = config.args?.length ? config.args : config.command?.length ? [] : (image.config.cmd ?? []);
  return [...entrypoint, ...cmd];
}

function base(arg0: string | undefined): string {
  return (arg0 ?? "").split("/").pop() ?? "";
}

/** `sh -c "exit N"` → N; otherwise undefined. */
function shExitCode(argv: string[]): number | undefined {
  if ((base(argv[0]) === "sh" || base(argv[0]) === "bash") && argv[1] === "-c" && argv.length === 3) {
    const m = /^\s*exit\s+(\d{1,3})\s*$/.exec(argv[2] ?? "");
    if (m) return Number(m[1]) & 0xff;
  }
  return undefined;
}

/**
 * How a simulated container ends by itself: `true` → 0, `false` → 1,
 * `sh -c "exit N"` → N, `echo …` → 0; anything else runs until stopped.
 */
export function selfExitCode(argv: string[]): number | undefined {
  switch (base(argv[0])) {
    case "true":
    case "echo":
      return 0;
    case "false":
      return 1;
  }
  return shExitCode(argv);
}

const encoder = new TextEncoder();

/**
 * The documented ExecSync simulation: `echo ARGS…` prints ARGS joined by
 * spaces and a newline; `true` exits 0; `false` exits 1; `sh -c "exit N"`
 * exits N. Anything else is Unimplemented (there is no process to run it in).
 */
export function simulateExec(argv: string[]): ExecSyncResponse {
  const empty = new Uint8Array();
  const name = base(argv[0]);
  if (name === "echo")
    return { stdout: encoder.encode(`${argv.slice(1).join(" ")}\n`), stderr: empty, exitCode: 0 };
  if (name === "true") return { stdout: empty, stderr: empty, exitCode: 0 };
  if (name === "false") return { stdout: empty, stderr: empty, exitCode: 1 };
  const code = shExitCode(argv);
  if (code !== undefined) return { stdout: empty, stderr: empty, exitCode: code };
  throw CriError.unimplemented(
    "ExecSync",
    `the memory backend only simulates echo, true, false and sh -c "exit N" (got ${JSON.stringify(argv)})`,
  );
}

/** Signal number of a CRI/OCI stop signal ("SIGTERM", "TERM", "15", "RUNTIME_DEFAULT"); SIGTERM when unset. */
export function signalNumber(signal: string | undefined): number {
  if (!signal || signal === "RUNTIME_DEFAULT") return constants.signals.SIGTERM;
  if (/^\d+$/.test(signal)) return Number(signal);
  const name = (signal.startsWith("SIG") ? signal : `SIG${signal}`) as keyof typeof constants.signals;
  const n = constants.signals[name];
  if (n === undefined) throw CriError.invalidArgument(`stopSignal: unknown signal "${signal}"`);
  return n;
}
