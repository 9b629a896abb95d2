/**
 * The servin command tree and its runner: errors become one clear line and exit code 1.
 * Every leaf is imported only when it runs (lazyCommand), so `--version` and `--help` load no
 * transport, backend or runtime module.
 */
import { type CommandDef, defineCommand, renderUsage, runCommand } from "citty";
import { handleBrokenPipes } from "./_broken-pipe.js";
import { lazyCommand, passThroughCommand } from "./_lazy-command.js";
import { VERSION } from "./version.js";

export { VERSION };

const containers = () => import("./commands/containers.js");
const images = () => import("./commands/images.js");

const criCommand = defineCommand({
  meta: { name: "cri", description: "Run and check the CRI server" },
  subCommands: {
    start: lazyCommand({ name: "start", description: "Start the CRI server (HTTP/JSON and gRPC)" }, () =>
      import("./commands/cri/start.js").then((m) => m.startCommand),
    ),
    status: lazyCommand({ name: "status", description: "Show the status of a running servin" }, () =>
      import("./commands/cri/status.js").then((m) => m.statusCommand),
    ),
    test: lazyCommand(
      {
        name: "test",
        description: "Exercise a running servin: health, version, status, images and a full pod lifecycle",
      },
      () => import("./commands/cri/test.js").then((m) => m.testCommand),
    ),
  },
});

const pull = { name: "pull", description: "Pull an image into servin's store" };
const list = { name: "images", description: "List images" };
const remove = { name: "rmi", description: "Remove one or more images (by tag, digest, ID or ID prefix)" };

const imageCommand = defineCommand({
  meta: { name: "image", description: "Image commands" },
  subCommands: {
    inspect: lazyCommand({ name: "inspect", description: "Show an image's status and config" }, () =>
      images().then((m) => m.inspectImageCommand),
    ),
    import: lazyCommand(
      {
        name: "import",
        description:
          "Import images from an OCI layout tar or a `docker save` archive (sent to servin, like docker load)",
      },
      () => images().then((m) => m.importImageCommand),
    ),
    export: lazyCommand(
      {
        name: "export",
        description: "Export an image as an OCI layout tar that docker load also reads (like docker save)",
      },
      () => images().then((m) => m.exportImageCommand),
    ),
    pull: lazyCommand(pull, () => images().then((m) => m.pullCommand)),
    ls: lazyCommand({ ...list, name: "ls" }, () => images().then((m) => m.imagesCommand)),
    rm: lazyCommand({ ...remove, name: "rm" }, () => images().then((m) => m.rmiCommand)),
  },
});

/** crictl's workflow and views: config files for runp/create, stats, info, events, update; plus completion and config. */
const crictlCommands = {
  runp: lazyCommand(
    { name: "runp", description: "Run a pod sandbox from crictl's pod-config.[json|yaml]; prints its ID" },
    () => import("./commands/crictl/runp.js").then((m) => m.runpCommand),
  ),
  create: lazyCommand(
    {
      name: "create",
      description:
        "Create a container in POD from crictl's container-config and pod-config files; prints its ID",
    },
    () => import("./commands/crictl/create.js").then((m) => m.createCommand),
  ),
  start: lazyCommand({ name: "start", description: "Start created containers" }, () =>
    import("./commands/crictl/start.js").then((m) => m.startContainerCommand),
  ),
  stats: lazyCommand(
    { name: "stats", description: "Show containers' resource usage (CPU %, memory, disk)" },
    () => import("./commands/crictl/stats.js").then((m) => m.statsCommand),
  ),
  statsp: lazyCommand(
    { name: "statsp", description: "Show pod sandboxes' resource usage (CPU %, memory)" },
    () => import("./commands/crictl/stats.js").then((m) => m.statspCommand),
  ),
  info: lazyCommand(
    { name: "info", description: "Show the runtime's status and configuration (verbose Status)" },
    () => import("./commands/crictl/info.js").then((m) => m.infoCommand),
  ),
  events: lazyCommand({ name: "events", description: "Stream container events until Ctrl-C" }, () =>
    import("./commands/crictl/events.js").then((m) => m.eventsCommand),
  ),
  update: lazyCommand({ name: "update", description: "Update containers' CPU and memory limits" }, () =>
    import("./commands/crictl/update.js").then((m) => m.updateCommand),
  ),
  completion: lazyCommand(
    { name: "completion", description: "Print shell completion code: bash, zsh or fish" },
    () => import("./commands/completion.js").then((m) => m.completionCommand),
  ),
  config: defineCommand({
    meta: { name: "config", description: "Check a config file, or print the default one" },
    subCommands: {
      check: lazyCommand(
        {
          name: "check",
          description: "Validate a config file as `cri start` reads it: prints OK or the bad key",
        },
        () => import("./commands/config.js").then((m) => m.configCheckCommand),
      ),
      default: lazyCommand(
        { name: "default", description: "Print the default config file (TOML, every key)" },
        () => import("./commands/config.js").then((m) => m.configDefaultCommand),
      ),
    },
  }),
};

export const servinCommand = defineCommand({
  meta: {
    name: "servin",
    version: VERSION,
    description: "A Kubernetes container runtime (CRI over HTTP/JSON and gRPC)",
  },
  subCommands: {
    cri: criCommand,
    version: lazyCommand(
      { name: "version", description: "Print the client's and the server's versions" },
      () => import("./commands/version.js").then((m) => m.versionCommand),
    ),
    pull: lazyCommand(pull, () => images().then((m) => m.pullCommand)),
    images: lazyCommand(list, () => images().then((m) => m.imagesCommand)),
    rmi: lazyCommand(remove, () => images().then((m) => m.rmiCommand)),
    image: imageCommand,
    pods: lazyCommand({ name: "pods", description: "List pod sandboxes" }, () =>
      containers().then((m) => m.podsCommand),
    ),
    ps: lazyCommand({ name: "ps", description: "List containers (running only, unless --all)" }, () =>
      containers().then((m) => m.psCommand),
    ),
    inspect: lazyCommand({ name: "inspect", description: "Show a container's status (verbose)" }, () =>
      containers().then((m) => m.inspectCommand),
    ),
    inspectp: lazyCommand({ name: "inspectp", description: "Show a pod sandbox's status (verbose)" }, () =>
      containers().then((m) => m.inspectPodCommand),
    ),
    stop: lazyCommand(
      { name: "stop", description: "Stop containers (stop signal, then SIGKILL after --timeout seconds)" },
      () => containers().then((m) => m.stopCommand),
    ),
    stopp: lazyCommand({ name: "stopp", description: "Stop pod sandboxes and their containers" }, () =>
      containers().then((m) => m.stopPodCommand),
    ),
    rm: lazyCommand({ name: "rm", description: "Remove containers (a running one is force-stopped)" }, () =>
      containers().then((m) => m.rmCommand),
    ),
    rmp: lazyCommand({ name: "rmp", description: "Remove pod sandboxes and their containers" }, () =>
      containers().then((m) => m.rmPodCommand),
    ),
    exec: passThroughCommand(
      {
        name: "exec",
        description: "Run a command in a running container: servin exec [-i] [-t] ID CMD ARGS…",
      },
      () => import("./commands/exec.js").then((m) => m.execCommand),
    ),
    attach: lazyCommand(
      {
        name: "attach",
        description: "Attach this terminal to a running container: servin attach [--no-stdin] ID",
      },
      () => import("./commands/attach.js").then((m) => m.attachCommand),
    ),
    "port-forward": lazyCommand(
      {
        name: "port-forward",
        description: "Forward local ports to a pod until Ctrl-C: servin port-forward POD LOCAL:REMOTE…",
      },
      () => import("./commands/port-forward.js").then((m) => m.portForwardCommand),
    ),
    logs: lazyCommand(
      { name: "logs", description: "Print a container's logs: servin logs [-f] [--tail N] [--since 5m] ID" },
      () => import("./commands/logs.js").then((m) => m.logsCommand),
    ),
    run: passThroughCommand(
      {
        name: "run",
        description: "Run IMAGE in a new pod: servin run [-d] [--rm] [-e K=V] … IMAGE [CMD ARGS…]",
      },
      () => import("./commands/run.js").then((m) => m.runCommand),
    ),
    ...crictlCommands,
  },
});

/**
 * Runs the servin CLI with the given arguments (without node and script).
 *
 * @example
 * await runServin(["cri", "status", "--port", "8080"]);
 */
export async function runServin(argv: string[]): Promise<void> {
  // `servin logs ID | head -1`: the reader leaving ends servin quietly (exit 0), not with an EPIPE trace.
  handleBrokenPipes("exit");
  if (argv.length === 0 || wantsHelp(argv)) {
    await showUsageFor(argv);
    return;
  }
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  // Imported here, not at the top: the answers above need no logger (consola alone adds ~20 ms to startup).
  const { consola } = await import("consola");
  // consola lowers its level when NODE_ENV=test or CI-like variables are set; servin's
  // output is its interface, so it must not depend on the caller's environment.
  consola.level = 3;
  // Piped, redirected or NO_COLOR: plain lines without colours or glyphs (either stream piped:
  // consola's fancy reporter would put colours or glyphs into it). `cri start` logs through its own
  // daemon logger once it runs; what reaches consola from it is a refusal to start (bad flag or config).
  const { plainReporter, wantsPlainOutput } = await import("./output/plain-reporter.js");
  if (wantsPlainOutput(process.stderr) || wantsPlainOutput(process.stdout))
    consola.setReporters([plainReporter]);
  const { path, unknown } = commandPath(argv);
  try {
    if (unknown) throw await unknownCommandError(unknown.word, unknown.candidates, path);
    await runCommand(servinCommand, { rawArgs: argv });
  } catch (err) {
    const { UnknownFlagError } = await import("./_strict-flags.js");
    const error = err instanceof UnknownFlagError ? err.forCommand(["servin", ...path].join(" ")) : err;
    // CriError (also when it crossed a realm as a plain object) carries a message naming the input.
    const text = (error as { message?: unknown } | null)?.message;
    const message = typeof text === "string" ? text : String(error);
    consola.error(message);
    if (process.env.SERVIN_DEBUG && err instanceof Error && err.stack) consola.log(err.stack);
    process.exitCode = 1;
  }
}

/**
 * The command words at the start of `argv` ("image", "ls"), and the first word that names no
 * sub-command of a command group (citty would only say "Unknown command", in colour).
 */
function commandPath(argv: string[]): { path: string[]; unknown?: { word: string; candidates: string[] } } {
  const path: string[] = [];
  let cmd: CommandDef = servinCommand;
  for (const word of argv) {
    if (word === "--" || word.startsWith("-")) break;
    const subs =
      typeof cmd.subCommands === "object" ? (cmd.subCommands as Record<string, CommandDef>) : undefined;
    if (!subs) break;
    const next = subs[word];
    if (!next) return { path, unknown: { word, candidates: Object.keys(subs) } };
    path.push(word);
    cmd = next;
  }
  return { path };
}

async function unknownCommandError(word: string, candidates: string[], path: string[]): Promise<Error> {
  const { suggest } = await import("./_suggest.js");
  const near = suggest(word, candidates);
  const parent = path.length > 0 ? ` for "servin ${path.join(" ")}"` : "";
  const hint = near ? `: did you mean "${near}"?` : ` (servin ${[...path, "--help"].join(" ")} lists them)`;
  return new Error(`unknown command "${word}"${parent}${hint}`);
}

async function showUsageFor(argv: string[]): Promise<void> {
  // Walk down to the named sub-command so `servin cri start --help` shows that command's flags;
  // only that one command's module loads (for its arguments).
  let cmd: CommandDef = servinCommand;
  let parent: CommandDef | undefined;
  for (const word of argv) {
    if (word.startsWith("-")) break;
    const subs =
      typeof cmd.subCommands === "object" ? (cmd.subCommands as Record<string, CommandDef>) : undefined;
    const next = subs?.[word];
    if (!next) break;
    parent = cmd;
    cmd = next;
  }
  // citty colours its usage unless NO_COLOR/CI is set when it loads; piped help is plain text
  const usage = await renderUsage(cmd, parent);
  const plain = process.stdout.isTTY !== true || Boolean(process.env.NO_COLOR) || process.env.TERM === "dumb";
  process.stdout.write(`${plain ? usage.replace(/\x1b\[[0-9;]*m/g, "") : usage}\n\n`);
}

/**
 * `--help`/`-h` anywhere, except inside the container's command of `run IMAGE CMD…` and `exec ID CMD…`
 * (`servin exec ID df -h` runs df). Without the flags' types, a word after a flag may be its value:
 * the command is taken to start at the latest possible word, so a `-h` of servin's is never missed.
 */
function wantsHelp(argv: string[]): boolean {
  let end = argv.length;
  if (argv[0] === "run" || argv[0] === "exec")
    for (let i = 1; i < argv.length; i++) {
      const word = argv[i]!;
      if (word === "--") {
        end = i;
        break;
      }
      if (word.startsWith("-")) continue;
      const previous = argv[i - 1]!;
      if (i > 1 && previous.startsWith("-") && !previous.includes("=")) continue;
      end = i;
      break;
    }
  return argv.slice(0, end).some((word) => word === "--help" || word === "-h");
}
