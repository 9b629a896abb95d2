/** Pod and container commands (crictl-like): pods, ps, inspect, inspectp, stop, stopp, rm, rmp (exec, logs and run have their own modules). */
import { defineCommand } from "citty";
import { consola } from "consola";
import { connect, connectArgs } from "../connect.js";
import { printJson } from "../output/json.js";
import { age, renderTable, shortId } from "../output/table.js";

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
