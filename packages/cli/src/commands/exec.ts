/** `servin exec [-i] [-t] ID CMD ARGS…`: a command in a running container, ending with the command's exit code (docker's codes otherwise). */
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, type ConnectArgs, connect, connectArgs } from "../connect.js";
import { parseCommandLine } from "./_pass-through.js";
import { exitCodeOf, runStdioSession } from "./_session.js";

const args = {
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
} as const;

export const execCommand = defineCommand({
  args,
  async run({ rawArgs }) {
    // docker's codes: 125 when servin fails, 126/127 when the command cannot run or is not there
    try {
      const line = parseCommandLine(args, rawArgs, 1);
      const [id] = line.positionals;
      if (!id) throw new Error("exec: no container given (servin exec [-i] [-t] ID CMD ARGS…)");
      if (line.command.length === 0) throw new Error("exec: no command given (servin exec ID CMD ARGS…)");
      const flag = (name: string) => line.strings.get(name)?.at(-1);
      const connection: ConnectArgs = {
        ...(flag("host") !== undefined ? { host: flag("host") } : {}),
        ...(flag("port") !== undefined ? { port: flag("port") } : {}),
        ...(flag("token-file") ? { "token-file": flag("token-file") } : {}),
      };
      const timeoutText = flag("timeout") ?? "0";
      const timeout = Number(timeoutText);
      if (!/^\d+$/.test(timeoutText) || !Number.isSafeInteger(timeout))
        throw new Error(`--timeout: expected whole seconds, got "${timeoutText}"`);
      process.exitCode = await exec(connection, id, line.command, {
        stdin: line.booleans.get("stdin") === true,
        tty: line.booleans.get("tty") === true,
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
