/** The servin command tree and its runner: errors become one clear line and exit code 1. */
import { isCriError } from "@servin/cri-types";
import { defineCommand, runCommand, showUsage } from "citty";
import { consola } from "consola";
import {
  execCommand,
  inspectCommand,
  inspectPodCommand,
  logsCommand,
  podsCommand,
  psCommand,
  rmCommand,
  rmPodCommand,
  runCommand as runContainerCommand,
  stopCommand,
  stopPodCommand,
} from "./commands/containers.js";
import { criCommand } from "./commands/cri/index.js";
import { imageCommand, imagesCommand, pullCommand, rmiCommand } from "./commands/images.js";
import { connect, connectArgs } from "./connect.js";
import { VERSION } from "./version.js";

export { VERSION };

const versionCommand = defineCommand({
  meta: { name: "version", description: "Print the client's and the server's versions" },
  args: connectArgs,
  async run({ args }) {
    consola.log(`servin client ${VERSION}`);
    const v = await connect(args, 5000).version({});
    consola.log(`server: ${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`);
  },
});

export const servinCommand = defineCommand({
  meta: {
    name: "servin",
    version: VERSION,
    description: "A Kubernetes container runtime (CRI over HTTP/JSON and gRPC)",
  },
  subCommands: {
    cri: criCommand,
    version: versionCommand,
    pull: pullCommand,
    images: imagesCommand,
    rmi: rmiCommand,
    image: imageCommand,
    pods: podsCommand,
    ps: psCommand,
    inspect: inspectCommand,
    inspectp: inspectPodCommand,
    stop: stopCommand,
    stopp: stopPodCommand,
    rm: rmCommand,
    rmp: rmPodCommand,
    exec: execCommand,
    logs: logsCommand,
    run: runContainerCommand,
  },
});

/**
 * Runs the servin CLI with the given arguments (without node and script).
 *
 * @example
 * await runServin(["cri", "status", "--port", "8080"]);
 */
export async function runServin(argv: string[]): Promise<void> {
  // consola lowers its level when NODE_ENV=test or CI-like variables are set; servin's
  // output is its interface, so it must not depend on the caller's environment.
  consola.level = 3;
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
    await showUsageFor(argv);
    return;
  }
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    consola.log(VERSION);
    return;
  }
  try {
    await runCommand(servinCommand, { rawArgs: argv });
  } catch (err) {
    const message = isCriError(err) ? `${err.message}` : err instanceof Error ? err.message : String(err);
    consola.error(message);
    if (process.env.SERVIN_DEBUG && err instanceof Error && err.stack) consola.log(err.stack);
    process.exitCode = 1;
  }
}

async function showUsageFor(argv: string[]): Promise<void> {
  // Walk down to the named sub-command so `servin cri start --help` shows that command's flags.
  let cmd = servinCommand as Parameters<typeof showUsage>[0];
  let parent: typeof cmd | undefined;
  for (const word of argv) {
    if (word.startsWith("-")) break;
    const subs = (typeof cmd.subCommands === "object" ? cmd.subCommands : undefined) as
      | Record<string, typeof cmd>
      | undefined;
    const next = subs?.[word];
    if (!next) break;
    parent = cmd;
    cmd = next;
  }
  await showUsage(cmd, parent);
}
