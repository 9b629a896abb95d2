/** `servin attach [--no-stdin] ID`: this terminal joins a running container's stdio (docker attach, crictl attach). */
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, connect, connectArgs } from "../connect.js";
import { exitCodeOf, runStdioSession } from "./_session.js";

interface AttachConfig {
  tty?: boolean;
  stdin?: boolean;
}

/** The container's own tty/stdin settings, from ContainerStatus's verbose info (containerd's `info` JSON). */
function configOf(info: Record<string, string> | undefined): AttachConfig {
  try {
    const parsed = JSON.parse(info?.info ?? "{}") as { config?: AttachConfig };
    return parsed.config ?? {};
  } catch {
    return {};
  }
}

export const attachCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID or prefix", required: true },
    stdin: {
      type: "boolean",
      default: true,
      description:
        "Send this terminal's input (when the container was created with stdin); --no-stdin: output only",
    },
  },
  async run({ args }) {
    try {
      const cri = connect(args, 3600_000);
      const { status, info } = await cri.containerStatus({ containerId: args.id, verbose: true });
      if (status.state !== "CONTAINER_RUNNING")
        throw new Error(`container "${args.id}" is not running (${status.state.toLowerCase()})`);
      // the session must match how the container was created: a tty one has one stream, stdin only if it has stdin
      const config = configOf(info);
      const tty = config.tty === true;
      const stdin = args.stdin !== false && config.stdin === true;
      const { url } = await cri.attach({ containerId: status.id, tty, stdin, stdout: true, stderr: !tty });
      const outcome = await runStdioSession(new URL(url, baseUrlOf(args)).href, { stdin, tty });
      process.exitCode = "exitCode" in outcome ? 0 : exitCodeOf(outcome);
      if ("error" in outcome) consola.error(outcome.error);
    } catch (err) {
      consola.error(err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    }
  },
});
