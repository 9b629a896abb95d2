/** The container's argv, environment and working directory from the CRI config merged with the image config. */
import { CriError, type KeyValue, type OciImageConfig } from "@servin/cri-types";
import { DEFAULT_PATH } from "./defaults.js";

/**
 * Kubelet's rules (same as Docker's): a CRI `command` replaces the image's
 * ENTRYPOINT and drops its CMD; CRI `args` replace CMD only.
 *
 * @example
 * resolveArgs({ command: [], args: ["-c", "echo hi"] }, { entrypoint: ["sh"], cmd: ["-i"] }); // ["sh", "-c", "echo hi"]
 */
export function resolveArgs(
  config: { command?: string[]; args?: string[] },
  image: Pick<OciImageConfig, "entrypoint" | "cmd">,
  containerName = "",
): string[] {
  const command = config.command ?? [];
  const args = config.args ?? [];
  let argv: string[];
  if (command.length > 0) argv = [...command, ...args];
  else argv = [...(image.entrypoint ?? []), ...(args.length > 0 ? args : (image.cmd ?? []))];
  if (argv.length === 0) {
    throw CriError.invalidArgument(
      `container "${containerName}": no command specified (neither config.command/args nor the image's ENTRYPOINT/CMD)`,
    );
  }
  return argv;
}

/**
 * Image env first, then the CRI envs (CRI wins on the same key), then PATH
 * and HOSTNAME when neither set them (containerd adds both).
 *
 * @example
 * mergeEnv(["A=1", "PATH=/bin"], [{ key: "A", value: "2" }], "web"); // ["A=2", "PATH=/bin", "HOSTNAME=web"]
 */
export function mergeEnv(
  imageEnv: string[] | undefined,
  criEnv: KeyValue[] | undefined,
  hostname?: string,
): string[] {
  const out = new Map<string, string>();
  for (const entry of imageEnv ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    out.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const { key, value } of criEnv ?? []) {
    if (key === "") continue;
    out.set(key, value);
  }
  if (!out.has("PATH")) out.set("PATH", DEFAULT_PATH);
  if (hostname && !out.has("HOSTNAME")) out.set("HOSTNAME", hostname);
  return [...out].map(([k, v]) => `${k}=${v}`);
}

/**
 * CRI working_dir, else the image's WorkingDir, else "/".
 *
 * @example
 * resolveCwd(undefined, { workingDir: "/app" }); // "/app"
 */
export function resolveCwd(
  workingDir: string | undefined,
  image: Pick<OciImageConfig, "workingDir">,
): string {
  const dir = workingDir || image.workingDir || "/";
  return dir.startsWith("/") ? dir : `/${dir}`;
}
