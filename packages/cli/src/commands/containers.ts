/** Pod and container commands (crictl-like): pods, ps, inspect, inspectp, stop, stopp, rm, rmp, exec, logs, run. */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, type ConnectArgs, connect, connectArgs } from "../connect.js";
import { parseCriLogLine } from "../logs/cri-log-line.js";
import { printJson } from "../output/json.js";
import { age, renderTable, shortId } from "../output/table.js";
import { exitCodeOf, runStdioSession } from "./_session.js";

const json = { type: "boolean", description: "Print JSON" } as const;

const positionals = (args: { _: string[] }) => args._.filter((x, i, all) => all.indexOf(x) === i);

export const podsCommand = defineCommand({
  args: { ...connectArgs, json, name: { type: "string", description: "Only pods whose name contains this" } },
  async run({ args }) {
    const res = await connect(args).listPodSandbox({});
    if (args.name) res.items = res.items.filter((p) => p.metadata.name.includes(args.name!));
    if (args.json) return printJson("listPodSandbox", res);
    consola.log(
      renderTable(
        ["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"],
        res.items.map((p) => [
          shortId(p.id),
          age(p.createdAt),
          p.state === "SANDBOX_READY" ? "Ready" : "NotReady",
          p.metadata.name,
          p.metadata.namespace ?? "",
          String(p.metadata.attempt ?? 0),
          p.runtimeHandler || "(default)",
        ]),
      ),
    );
  },
});

export const psCommand = defineCommand({
  args: {
    ...connectArgs,
    json,
    all: { type: "boolean", alias: "a", description: "Show all containers" },
    pod: { type: "string", alias: "p", description: "Only containers of this pod (ID or prefix)" },
  },
  async run({ args }) {
    const res = await connect(args).listContainers({
      filter: {
        ...(args.all ? {} : { state: { state: "CONTAINER_RUNNING" as const } }),
        ...(args.pod ? { podSandboxId: args.pod } : {}),
      },
    });
    if (args.json) return printJson("listContainers", res);
    consola.log(
      renderTable(
        ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"],
        res.containers.map((c) => [
          shortId(c.id),
          c.image.image,
          age(c.createdAt),
          c.state
            .replace("CONTAINER_", "")
            .toLowerCase()
            .replace(/^./, (x) => x.toUpperCase()),
          c.metadata.name,
          String(c.metadata.attempt ?? 0),
          shortId(c.podSandboxId),
        ]),
      ),
    );
  },
});

export const inspectCommand = defineCommand({
  args: { ...connectArgs, id: { type: "positional", description: "Container ID or prefix", required: true } },
  async run({ args }) {
    printJson(
      "containerStatus",
      await connect(args).containerStatus({ containerId: args.id, verbose: true }),
    );
  },
});

export const inspectPodCommand = defineCommand({
  args: { ...connectArgs, id: { type: "positional", description: "Pod ID or prefix", required: true } },
  async run({ args }) {
    printJson(
      "podSandboxStatus",
      await connect(args).podSandboxStatus({ podSandboxId: args.id, verbose: true }),
    );
  },
});

export const stopCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID(s) or prefixes", required: true },
    timeout: { type: "string", alias: "t", description: "Seconds before SIGKILL", default: "10" },
  },
  async run({ args }) {
    const cri = connect(args, 10 * 60_000);
    const timeout = Number(args.timeout);
    if (!Number.isInteger(timeout) || timeout < 0)
      throw new Error(`--timeout: expected whole seconds, got "${args.timeout}"`);
    for (const id of positionals(args)) {
      await cri.stopContainer({ containerId: id, timeout });
      consola.log(id);
    }
  },
});

export const rmCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID(s) or prefixes", required: true },
  },
  async run({ args }) {
    const cri = connect(args, 10 * 60_000);
    for (const id of positionals(args)) {
      await cri.removeContainer({ containerId: id });
      consola.log(id);
    }
  },
});

export const stopPodCommand = defineCommand({
  args: { ...connectArgs, id: { type: "positional", description: "Pod ID(s) or prefixes", required: true } },
  async run({ args }) {
    const cri = connect(args, 10 * 60_000);
    for (const id of positionals(args)) {
      await cri.stopPodSandbox({ podSandboxId: id });
      consola.log(`Stopped sandbox ${id}`);
    }
  },
});

export const rmPodCommand = defineCommand({
  args: { ...connectArgs, id: { type: "positional", description: "Pod ID(s) or prefixes", required: true } },
  async run({ args }) {
    const cri = connect(args, 10 * 60_000);
    for (const id of positionals(args)) {
      await cri.removePodSandbox({ podSandboxId: id });
      consola.log(`Removed sandbox ${id}`);
    }
  },
});

export const execCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID or prefix", required: true },
    stdin: {
      type: "boolean",
      alias: "i",
      description: "Pass stdin to the command (its end closes the command's stdin)",
    },
    tty: {
      type: "boolean",
      alias: "t",
      description: "Run the command in a terminal (raw local terminal, resized with it)",
    },
    timeout: {
      type: "string",
      description: "Seconds before the command is killed; > 0 runs it with ExecSync (output at the end)",
      default: "0",
    },
  },
  async run({ args, rawArgs }) {
    const dash = rawArgs.indexOf("--");
    const cmd = dash >= 0 ? rawArgs.slice(dash + 1) : args._.slice(1);
    // docker's codes: 125 when servin fails, 126/127 when the command cannot run or is not there
    try {
      if (cmd.length === 0) throw new Error("exec: no command given (servin exec ID -- CMD ARGS…)");
      const timeout = Number(args.timeout);
      if (!Number.isInteger(timeout) || timeout < 0)
        throw new Error(`--timeout: expected whole seconds, got "${args.timeout}"`);
      process.exitCode = await exec(args, args.id, cmd, {
        stdin: args.stdin === true,
        tty: args.tty === true,
        timeout,
      });
    } catch (err) {
      consola.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 125;
    }
  },
});

/**
 * Exec over the streaming protocol (kubectl's and crictl's way): output as it comes, stdin, a
 * terminal, and the exit code on the error channel. A timeout, or a server without streaming
 * (Exec answers Unimplemented), takes ExecSync instead, which can neither stream nor take input.
 */
async function exec(
  args: ConnectArgs,
  containerId: string,
  cmd: string[],
  opts: { stdin: boolean; tty: boolean; timeout: number },
): Promise<number> {
  let tty = opts.tty;
  if (tty && opts.stdin && !process.stdin.isTTY) {
    // kubectl's answer: go on without a terminal rather than put a pipe in raw mode
    consola.warn("unable to use a tty: stdin is not a terminal");
    tty = false;
  }
  const cri = connect(args, (opts.timeout > 0 ? opts.timeout + 30 : 3600) * 1000);
  if (opts.timeout === 0 || opts.stdin || tty) {
    try {
      const { url } = await cri.exec({
        containerId,
        cmd,
        tty,
        stdin: opts.stdin,
        stdout: true,
        stderr: !tty,
      });
      const outcome = await runStdioSession(new URL(url, baseUrlOf(args)).href, { stdin: opts.stdin, tty });
      if ("error" in outcome) consola.error(outcome.error);
      return exitCodeOf(outcome);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "Unimplemented" || opts.stdin || tty) throw err;
    }
  }
  const res = await cri.execSync({ containerId, cmd, timeout: opts.timeout });
  process.stdout.write(res.stdout);
  process.stderr.write(res.stderr);
  return res.exitCode;
}

export const logsCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID or prefix", required: true },
    timestamps: { type: "boolean", description: "Show timestamps" },
    follow: { type: "boolean", alias: "f", description: "Keep printing new lines" },
  },
  async run({ args }) {
    const cri = connect(args);
    const { status } = await cri.containerStatus({ containerId: args.id });
    if (!status.logPath)
      throw new Error(
        `container "${args.id}" has no log file (its pod has no log_directory or it has no log_path)`,
      );
    const print = (line: string) => {
      const entry = parseCriLogLine(line);
      if (!entry) return;
      const out = entry.stream === "stderr" ? process.stderr : process.stdout;
      out.write(`${args.timestamps ? `${entry.time} ` : ""}${entry.content}${entry.partial ? "" : "\n"}`);
    };
    let offset = 0;
    const readFrom = async (start: number) => {
      const lines = createInterface({
        input: createReadStream(status.logPath!, { start, encoding: "utf8" }),
      });
      for await (const line of lines) print(line);
      return (await stat(status.logPath!)).size;
    };
    offset = await readFrom(0);
    while (args.follow) {
      await new Promise((r) => setTimeout(r, 500));
      const size = (await stat(status.logPath).catch(() => ({ size: 0 }))).size;
      if (size < offset) offset = 0; // rotated: start the new file from the top
      if (size > offset) offset = await readFrom(offset);
    }
  },
});

export const runCommand = defineCommand({
  args: {
    ...connectArgs,
    image: { type: "positional", description: "Image", required: true },
    name: { type: "string", description: "Container and pod name", default: "" },
    namespace: { type: "string", description: "Pod namespace", default: "default" },
    "log-dir": { type: "string", description: "Pod log directory", default: "" },
  },
  async run({ args, rawArgs }) {
    const cri = connect(args, 10 * 60_000);
    const dash = rawArgs.indexOf("--");
    const command = dash >= 0 ? rawArgs.slice(dash + 1) : [];
    const name = args.name || `run-${Date.now().toString(36)}`;
    const present = await cri.imageStatus({ image: { image: args.image } });
    if (!present.image) await cri.pullImage({ image: { image: args.image } });
    const { podSandboxId } = await cri.runPodSandbox({
      config: {
        metadata: { name, namespace: args.namespace, uid: `${name}-${process.pid}`, attempt: 0 },
        hostname: name,
        ...(args["log-dir"] ? { logDirectory: args["log-dir"] } : {}),
      },
    });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: {
        metadata: { name },
        image: { image: args.image },
        ...(command.length > 0 ? { command } : {}),
        ...(args["log-dir"] ? { logPath: `${name}.log` } : {}),
      },
    });
    await cri.startContainer({ containerId });
    consola.log(`pod ${podSandboxId}`);
    consola.log(`container ${containerId}`);
  },
});
