/**
 * `servin run [flags] IMAGE [CMD ARGS…]`, as nerdctl and podman run it: one pod with one container
 * named after it, logs under servin's own log directory, attached until the container exits (its exit
 * code is ours) or detached with -d (prints the container ID). Exit codes as docker's: 125 when
 * servin fails, 126 when the command cannot be run, 127 when it is not found. A run that fails removes
 * the pod it made.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { containerLogs, servinInfo } from "@servin/cri-http";
import type { ContainerConfig, PodSandboxConfig } from "@servin/cri-types";
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, type ConnectArgs, connect, connectArgs } from "../connect.js";
import { printCriLog } from "../logs/print.js";
import { parseCommandLine } from "./_pass-through.js";
import {
  envsOf,
  labelsOf,
  mountOf,
  portMappingOf,
  resourcesOf,
  startFailureCode,
  userOf,
} from "./_run-options.js";
import { runStdioSession } from "./_session.js";

const args = {
  ...connectArgs,
  image: { type: "positional", description: "Image to run (pulled when missing)", required: true },
  detach: { type: "boolean", alias: "d", description: "Start it and print the container ID" },
  rm: { type: "boolean", description: "Remove the container and its pod once it has exited" },
  name: { type: "string", description: "Pod and container name (refused when taken)" },
  namespace: { type: "string", description: "Pod namespace", default: "servin" },
  env: {
    type: "string",
    alias: "e",
    description: "Environment variable K=V (or K: this shell's value); repeatable",
  },
  "env-file": { type: "string", description: "File of K=V lines; repeatable" },
  volume: { type: "string", alias: "v", description: "Bind mount HOST:CONTAINER[:ro]; repeatable" },
  publish: {
    type: "string",
    alias: "p",
    description: "Publish a port [IP:]HOST:CONTAINER[/tcp|udp|sctp] (through CNI portmap); repeatable",
  },
  label: { type: "string", alias: "l", description: "Label K=V on the pod and the container; repeatable" },
  user: { type: "string", alias: "u", description: "USER[:GROUP] to run as (uid, gid or user name)" },
  workdir: { type: "string", alias: "w", description: "Working directory in the container" },
  entrypoint: {
    type: "string",
    description: "Replace the image's entrypoint (CMD ARGS become its arguments)",
  },
  memory: { type: "string", alias: "m", description: "Memory limit (like 512m, 1g)" },
  cpus: { type: "string", description: "CPU limit (like 0.5, 2)" },
  interactive: { type: "boolean", alias: "i", description: "Keep stdin open and attach it" },
  tty: { type: "boolean", alias: "t", description: "Give the container a terminal" },
} as const;

/** A failure with the exit code docker would give it. */
class RunFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const runCommand = defineCommand({
  args,
  async run({ rawArgs }) {
    try {
      process.exitCode = await run(rawArgs);
    } catch (err) {
      const message = (err as { message?: unknown })?.message;
      consola.error(typeof message === "string" ? message : String(err));
      process.exitCode = err instanceof RunFailure ? err.exitCode : 125;
    }
  },
});

async function run(rawArgs: string[]): Promise<number> {
  const line = parseCommandLine(args, rawArgs, 1);
  const [image] = line.positionals;
  if (!image) throw new Error("run: no image given (servin run [flags] IMAGE [CMD ARGS…])");
  const one = (name: string) => line.strings.get(name)?.at(-1);
  const all = (name: string) => line.strings.get(name) ?? [];
  const on = (name: string) => line.booleans.get(name) === true;
  const detach = on("detach");
  const stdin = on("interactive");
  const tty = on("tty");
  if (detach && on("rm"))
    throw new Error("--rm and --detach together: a detached run has no end to remove it at");

  // Everything that can be wrong with the flags is found before servin is asked for anything.
  const envs = envsOf(all("env"), all("env-file"), process.env);
  const mounts = all("volume").map((v) => mountOf(v, process.cwd()));
  const portMappings = all("publish").map(portMappingOf);
  const labels = labelsOf(all("label"));
  const user = one("user");
  const securityContext = user ? userOf(user) : undefined;
  const resources = resourcesOf(one("memory"), one("cpus"));
  const namespace = one("namespace") ?? "servin";
  const name = one("name") ?? generatedName(image);
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(name))
    throw new Error(`--name: expected letters, digits, "_", "." or "-" (at most 63), got "${name}"`);
  const entrypoint = one("entrypoint");

  const connection: ConnectArgs = {
    ...(one("host") !== undefined ? { host: one("host") } : {}),
    ...(one("port") !== undefined ? { port: one("port") } : {}),
    ...(one("token-file") ? { "token-file": one("token-file") } : {}),
  };
  const cri = connect(connection, 10 * 60_000);
  const token = connection["token-file"] ? readFileSync(connection["token-file"], "utf8").trim() : undefined;
  const http = { baseUrl: baseUrlOf(connection), ...(token ? { token } : {}) };

  // docker refuses a name in use; the CRI only refuses the same name, namespace, uid and attempt
  await refuseTakenName(cri, name, namespace);

  if (!(await cri.imageStatus({ image: { image } })).image) {
    // stderr: with -d, stdout is the container ID alone
    process.stderr.write(`pulling image ${image}\n`);
    await cri.pullImage({ image: { image } });
  }

  // The pod's uid is derived from its name: two runs racing for one name meet the CRI's own refusal.
  const uid = `servin-run-${name}`;
  const { podLogRoot } = await servinInfo(http).catch(() => ({ podLogRoot: undefined }));
  if (!podLogRoot) consola.warn("this servin does not say where pod logs go: the container keeps no log");
  const podConfig: PodSandboxConfig = {
    metadata: { name, namespace, uid, attempt: 0 },
    hostname:
      name
        .toLowerCase()
        .replace(/[^a-z0-9-]/g, "-")
        .replace(/^-+|-+$/g, "") || "servin",
    // kubelet's layout: <root>/<namespace>_<name>_<uid>/<container>/<attempt>.log
    ...(podLogRoot ? { logDirectory: `${podLogRoot}/${namespace}_${name}_${uid}` } : {}),
    ...(portMappings.length > 0 ? { portMappings } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
  const { podSandboxId } = await cri.runPodSandbox({ config: podConfig });

  let containerId: string;
  try {
    const container: ContainerConfig = {
      metadata: { name, attempt: 0 },
      image: { image },
      // docker's meaning: CMD ARGS replace the image's Cmd (the CRI's args), --entrypoint its Entrypoint
      ...(entrypoint !== undefined ? { command: [entrypoint] } : {}),
      ...(line.command.length > 0 || entrypoint !== undefined ? { args: line.command } : {}),
      ...(envs.length > 0 ? { envs } : {}),
      ...(mounts.length > 0 ? { mounts } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(one("workdir") ? { workingDir: one("workdir") } : {}),
      ...(podLogRoot ? { logPath: `${name}/0.log` } : {}),
      ...(stdin ? { stdin: true, stdinOnce: true } : {}),
      ...(tty ? { tty: true } : {}),
      ...(resources || securityContext
        ? { linux: { ...(resources ? { resources } : {}), ...(securityContext ? { securityContext } : {}) } }
        : {}),
    };
    try {
      ({ containerId } = await cri.createContainer({ podSandboxId, config: container }));
      await cri.startContainer({ containerId });
    } catch (err) {
      // runc finds a missing command at create (runc create) or start: docker's 127/126, in docker's words
      // (runc's warnings before it, "lstat : no such file or directory" among them, say nothing of the command)
      const reason = dockerWording((err as { message?: string }).message ?? String(err));
      const code = reason ? startFailureCode(reason) : 125;
      throw code === 125 ? err : new RunFailure(`container "${name}": ${reason}`, code);
    }
  } catch (err) {
    // A failed run leaves nothing behind: the pod goes with whatever it holds.
    await cri.removePodSandbox({ podSandboxId }).catch((cleanup: unknown) => {
      consola.warn(`could not remove pod ${podSandboxId}: ${(cleanup as Error).message}`);
    });
    throw err;
  }

  if (detach) {
    process.stdout.write(`${containerId}\n`);
    return 0;
  }

  // A terminal session sends Ctrl-C to the container itself; otherwise the first Ctrl-C stops it.
  const release = tty ? () => {} : stopOnInterrupt(cri, containerId);
  let exitCode: number;
  try {
    if (stdin || tty) {
      const { url } = await cri.attach({ containerId, stdin, tty, stdout: true, stderr: !tty });
      const outcome = await runStdioSession(new URL(url, http.baseUrl).href, { stdin, tty });
      if ("error" in outcome) consola.error(outcome.error);
    } else if (podLogRoot) {
      await printCriLog(await containerLogs(http, containerId, { follow: true, format: "cri" }), {
        timestamps: false,
      });
    }
    exitCode = await exitCodeWhenExited(cri, containerId);
  } finally {
    release();
  }
  if (on("rm")) await cri.removePodSandbox({ podSandboxId });
  return exitCode;
}

/**
 * An attached run ends with its container: Ctrl-C or SIGTERM stops the container (its stop signal,
 * then SIGKILL after 10 s, as `docker stop`), the run then ends with the container's exit code (and
 * `--rm` still removes the pod). A second signal leaves at once (exit 130) with the container as it is.
 * Returns the function that removes the handlers.
 */
function stopOnInterrupt(cri: ReturnType<typeof connect>, containerId: string): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    // stderr: stdout carries the container's own output
    process.stderr.write(
      `${signal}: stopping container ${containerId.slice(0, 13)} (again to leave without waiting)\n`,
    );
    cri.stopContainer({ containerId, timeout: 10 }).catch((err: unknown) => {
      consola.warn(`could not stop container ${containerId.slice(0, 13)}: ${(err as Error).message}`);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  };
}

/** `exec: "nope": executable file not found in $PATH`, not runc's whole log (its quotes are escaped in it). */
function dockerWording(message: string): string | undefined {
  return /start container process: (exec: "[^"]*": [^"\n]*)/.exec(message.replace(/\\"/g, '"'))?.[1]?.trim();
}

async function refuseTakenName(
  cri: ReturnType<typeof connect>,
  name: string,
  namespace: string,
): Promise<void> {
  const { items } = await cri.listPodSandbox({});
  const pods = items.filter((p) => p.metadata.namespace === namespace);
  const pod = pods.find((p) => p.metadata.name === name);
  if (pod)
    throw new Error(
      `the name "${name}" is already in use by pod ${pod.id.slice(0, 13)} in namespace "${namespace}": remove it (servin rmp ${pod.id.slice(0, 13)}) or choose another --name`,
    );
  const inNamespace = new Set(pods.map((p) => p.id));
  const { containers } = await cri.listContainers({});
  const container = containers.find((c) => c.metadata.name === name && inNamespace.has(c.podSandboxId));
  if (container)
    throw new Error(
      `the name "${name}" is already in use by container ${container.id.slice(0, 13)} in namespace "${namespace}": remove it or choose another --name`,
    );
}

/** `busybox-3f2a1c` for `registry.k8s.io/e2e-test-images/busybox:1.29-2`. */
function generatedName(image: string): string {
  const base = image
    .split("@")[0]!
    .split("/")
    .at(-1)!
    .split(":")[0]!
    .replace(/[^a-zA-Z0-9_.-]/g, "-");
  return `${base.slice(0, 48) || "run"}-${randomBytes(3).toString("hex")}`;
}

async function exitCodeWhenExited(cri: ReturnType<typeof connect>, containerId: string): Promise<number> {
  for (;;) {
    const { status } = await cri.containerStatus({ containerId });
    if (status.state === "CONTAINER_EXITED") return status.exitCode ?? 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}
