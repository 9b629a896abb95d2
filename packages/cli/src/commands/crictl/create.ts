/**
 * `servin create POD CONTAINER.json|yaml POD.json|yaml`: crictl's create, CreateContainer from the
 * container and pod config files; prints the container ID. Like crictl (pull-image-on-create: false),
 * the image is pulled only with `--with-pull`.
 */
import type { AuthConfig } from "@servin/cri-types";
import { defineCommand } from "citty";
import { connect, connectArgs } from "../../connect.js";
import { loadContainerConfig, loadPodSandboxConfig, parseCancelTimeout } from "./_config-file.js";
import { cancelTimeout } from "./runp.js";

export const createCommand = defineCommand({
  args: {
    ...connectArgs,
    pod: { type: "positional", description: "Pod ID or prefix", required: true },
    container: { type: "positional", description: "container-config.[json|yaml]", required: true },
    podConfig: { type: "positional", description: "pod-config.[json|yaml]", required: true },
    "with-pull": { type: "boolean", description: "Pull the image before creating the container" },
    "no-pull": { type: "boolean", description: "Do not pull the image (the default)" },
    creds: { type: "string", description: "USERNAME[:PASSWORD] for the registry (with --with-pull)" },
    auth: {
      type: "string",
      description: "base64 of USERNAME[:PASSWORD] for the registry (with --with-pull)",
    },
    username: {
      type: "string",
      description: "USERNAME for the registry; the password is read from the terminal (with --with-pull)",
    },
    "cancel-timeout": cancelTimeout,
  },
  async run({ args, rawArgs }) {
    const timeout = parseCancelTimeout(args["cancel-timeout"]);
    // citty reads `--no-pull` as the negation of a `pull` flag, so it is looked for as written
    const dash = rawArgs.indexOf("--");
    const noPull = (dash < 0 ? rawArgs : rawArgs.slice(0, dash)).includes("--no-pull");
    if (args["with-pull"] && noPull) throw new Error("--with-pull and --no-pull: choose one");
    const config = await loadContainerConfig(args.container);
    const sandboxConfig = await loadPodSandboxConfig(args.podConfig);
    const cri = connect(args, timeout ?? 10 * 60_000);
    if (args["with-pull"]) {
      const auth = await authOf(args);
      await cri.pullImage({ image: config.image, sandboxConfig, ...(auth ? { auth } : {}) });
    }
    const { containerId } = await cri.createContainer({ podSandboxId: args.pod, config, sandboxConfig });
    process.stdout.write(`${containerId}\n`);
  },
});

/** crictl's --creds, --auth and --username (at most one). */
async function authOf(args: {
  creds?: string;
  auth?: string;
  username?: string;
}): Promise<AuthConfig | undefined> {
  const given = (["creds", "auth", "username"] as const).filter((k) => args[k]);
  if (given.length > 1) throw new Error(`--${given.join(" and --")}: use only one`);
  if (args.auth) return { auth: args.auth };
  if (args.creds) {
    const colon = args.creds.indexOf(":");
    if (colon === 0) throw new Error(`--creds: expected USERNAME[:PASSWORD], got an empty username`);
    if (colon < 0) return { username: args.creds, password: await readPassword() };
    return { username: args.creds.slice(0, colon), password: args.creds.slice(colon + 1) };
  }
  if (args.username) return { username: args.username, password: await readPassword() };
  return undefined;
}

/** One line from stdin; on a terminal prompted on stderr and not echoed (crictl's "Enter Password:"). */
async function readPassword(): Promise<string> {
  const { createInterface } = await import("node:readline");
  const { Writable } = await import("node:stream");
  const tty = process.stdin.isTTY === true;
  if (tty) process.stderr.write("Enter Password: ");
  const muted = new Writable({ write: (_chunk, _enc, done) => done() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: tty });
  try {
    for await (const line of rl) return line;
    return "";
  } finally {
    rl.close();
    if (tty) process.stderr.write("\n");
  }
}
