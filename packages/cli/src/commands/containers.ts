/** Pod and container commands (crictl-like): pods, ps, inspect, inspectp, stop, stopp, rm, rmp (exec, logs and run have their own modules). */
import { defineCommand } from "citty";
import { consola } from "consola";
import { connect, connectArgs } from "../connect.js";
import {
  decodeVerboseInfo,
  inspectOutputArgs,
  listOutputArgs,
  outputFormat,
  printStructured,
} from "../output/format.js";
import { age, renderTable, tableId } from "../output/table.js";
import { containerQuery, podQuery } from "./_filters.js";

const positionals = (args: { _: string[] }) => args._.filter((x, i, all) => all.indexOf(x) === i);

const last = { type: "string", description: "Show only the N most recently created (all states)" } as const;
const latest = { type: "boolean", alias: "l", description: "Show only the most recently created" } as const;
const label = { type: "string", description: "Filter by label KEY=VALUE (repeatable)" } as const;

export const podsCommand = defineCommand({
  args: {
    ...connectArgs,
    ...listOutputArgs,
    name: { type: "string", description: "Filter by pod name (regular expression)" },
    namespace: { type: "string", description: "Filter by pod namespace (regular expression)" },
    state: { type: "string", description: "Filter by state: ready or notready" },
    label,
    last,
    latest,
  },
  async run({ args, rawArgs }) {
    const format = outputFormat(args, ["json", "yaml", "table"], "table");
    const query = podQuery(args, rawArgs);
    const res = await connect(args).listPodSandbox({ filter: query.filter });
    const items = query.select(res.items);
    if (args.quiet) return printIds(items.map((p) => p.id));
    if (format !== "table") return printStructured("listPodSandbox", { items }, format);
    consola.log(
      renderTable(
        ["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"],
        items.map((p) => [
          tableId(p.id, args.trunc),
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
    ...listOutputArgs,
    all: { type: "boolean", alias: "a", description: "Show all containers (not only running ones)" },
    pod: { type: "string", alias: "p", description: "Only containers of this pod (ID or prefix)" },
    state: { type: "string", description: "Filter by state: created, running, exited or unknown" },
    name: { type: "string", description: "Filter by container name (regular expression)" },
    image: { type: "string", description: "Filter by image (reference or ID)" },
    label,
    last,
    latest,
  },
  async run({ args, rawArgs }) {
    const format = outputFormat(args, ["json", "yaml", "table"], "table");
    const query = containerQuery(args, rawArgs);
    const cri = connect(args);
    const res = await cri.listContainers({ filter: query.filter });
    const containers = await query.select(
      res.containers,
      async (ref) => (await cri.imageStatus({ image: { image: ref } })).image?.id,
    );
    if (args.quiet) return printIds(containers.map((c) => c.id));
    if (format !== "table") return printStructured("listContainers", { containers }, format);
    consola.log(
      renderTable(
        ["CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID"],
        containers.map((c) => [
          tableId(c.id, args.trunc),
          // an image given by its ID is an ID like any other: truncated unless --no-trunc
          /^sha256:[0-9a-f]{64}$/.test(c.image.image) ? tableId(c.image.image, args.trunc) : c.image.image,
          age(c.createdAt),
          c.state
            .replace("CONTAINER_", "")
            .toLowerCase()
            .replace(/^./, (x) => x.toUpperCase()),
          c.metadata.name,
          String(c.metadata.attempt ?? 0),
          tableId(c.podSandboxId, args.trunc),
        ]),
      ),
    );
  },
});

/** `-q`: full IDs, one per line, for `xargs` and `$(…)`. */
function printIds(ids: string[]): void {
  if (ids.length > 0) process.stdout.write(`${ids.join("\n")}\n`);
}

export const inspectCommand = defineCommand({
  args: {
    ...connectArgs,
    ...inspectOutputArgs,
    id: { type: "positional", description: "Container ID or prefix", required: true },
  },
  async run({ args }) {
    const format = outputFormat(args, ["json", "yaml"], "json");
    const res = await connect(args).containerStatus({ containerId: args.id, verbose: true });
    printStructured("containerStatus", res, format, decodeVerboseInfo);
  },
});

export const inspectPodCommand = defineCommand({
  args: {
    ...connectArgs,
    ...inspectOutputArgs,
    id: { type: "positional", description: "Pod ID or prefix", required: true },
  },
  async run({ args }) {
    const format = outputFormat(args, ["json", "yaml"], "json");
    const res = await connect(args).podSandboxStatus({ podSandboxId: args.id, verbose: true });
    printStructured("podSandboxStatus", res, format, decodeVerboseInfo);
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
