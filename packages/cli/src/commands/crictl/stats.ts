/**
 * `servin stats` and `servin statsp`: crictl's resource usage tables. CPU % is measured as crictl does:
 * two samples `--seconds` apart, (Δ usage_core_nano_seconds / Δ timestamp) × 100; `-o json|yaml` prints
 * one sample as the API answers it.
 */
import type { ContainerStats, ContainerStatsFilter, PodSandboxStats, StringMap } from "@servin/cri-types";
import { defineCommand } from "citty";
import { type ConnectArgs, connect, connectArgs } from "../../connect.js";
import { outputFormat, printStructured } from "../../output/format.js";
import { renderTable, shortId } from "../../output/table.js";
import { humanSize } from "./_output.js";

const sharedArgs = {
  ...connectArgs,
  label: { type: "string", description: "Filter by key=value label (repeatable)" },
  output: { type: "string", alias: "o", description: "Output format: json|yaml|table (default table)" },
  seconds: {
    type: "string",
    alias: "s",
    description: "Sample duration for CPU usage in seconds",
    default: "1",
  },
  watch: { type: "boolean", alias: "w", description: "Redraw the table every sample until Ctrl-C" },
} as const;

/**
 * Every `--label k=v` as a selector (citty keeps only the last of a repeated flag, so the raw
 * arguments are read), or undefined without one.
 */
export function labelSelector(rawArgs: readonly string[]): StringMap | undefined {
  const pairs: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (arg === "--label") pairs.push(rawArgs[++i] ?? "");
    else if (arg.startsWith("--label=")) pairs.push(arg.slice("--label=".length));
  }
  if (pairs.length === 0) return undefined;
  const selector: StringMap = Object.create(null);
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--label: expected key=value, got "${pair}"`);
    selector[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return selector;
}

function sampleMs(seconds: string): number {
  const n = Number(seconds);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--seconds: expected a positive number, got "${seconds}"`);
  return n * 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU % between two samples; 0 for a container that used none (crictl shows 0.00 then). */
function cpuPercent(
  now: { timestamp: bigint; usageCoreNanoSeconds?: { value: number } } | undefined,
  before: { timestamp: bigint; usageCoreNanoSeconds?: { value: number } } | undefined,
): string {
  const used = now?.usageCoreNanoSeconds?.value ?? 0;
  if (!now || !before || used === 0) return "0.00";
  const elapsed = Number(now.timestamp - before.timestamp);
  if (elapsed <= 0) return "0.00";
  return (((used - (before.usageCoreNanoSeconds?.value ?? 0)) / elapsed) * 100).toFixed(2);
}

/** Prints the table once, or every sample with --watch (the screen cleared on a terminal) until Ctrl-C. */
async function showTable(watch: boolean | undefined, render: () => Promise<string>): Promise<void> {
  if (!watch) {
    process.stdout.write(`${await render()}\n`);
    return;
  }
  let stopped = false;
  process.once("SIGINT", () => {
    stopped = true;
  });
  while (!stopped) {
    const table = await render();
    if (stopped) break;
    process.stdout.write(`${process.stdout.isTTY ? "\x1b[2J\x1b[H" : ""}${table}\n`);
  }
}

export const statsCommand = defineCommand({
  args: {
    ...sharedArgs,
    containers: {
      type: "positional",
      description: "Container ID(s) or prefixes (default: all)",
      required: false,
    },
    id: { type: "string", description: "Filter by container ID (as the positional ID)" },
    all: { type: "boolean", alias: "a", description: "Show all containers (default shows just running)" },
    pod: { type: "string", alias: "p", description: "Filter by pod ID" },
  },
  async run({ args, rawArgs }) {
    const format = outputFormat(args, ["json", "yaml", "table"], "table");
    const sample = sampleMs(args.seconds);
    const ids = [...new Set(args._)];
    if (args.id) ids.push(args.id);
    const labels = labelSelector(rawArgs);
    const filter: ContainerStatsFilter = {
      ...(args.pod ? { podSandboxId: args.pod } : {}),
      ...(labels ? { labelSelector: labels } : {}),
    };
    const cri = connect(args as ConnectArgs);
    const list = (): Promise<ContainerStats[]> =>
      statsOf(ids, filter, (f) => cri.listContainerStats({ filter: f }));
    if (format !== "table") {
      printStructured("listContainerStats", { stats: await list() }, format);
      return;
    }
    await showTable(args.watch, async () => {
      const before = new Map((await list()).map((s) => [s.attributes.id, s]));
      await sleep(sample);
      const rows: string[][] = [];
      for (const s of await list()) {
        const cpu = s.cpu?.usageCoreNanoSeconds?.value ?? 0;
        const mem = s.memory?.workingSetBytes?.value ?? 0;
        // crictl: no CPU and no memory means not running; shown only with --all
        if (!args.all && cpu === 0 && mem === 0) continue;
        const old = before.get(s.attributes.id);
        if (!old) continue;
        rows.push([
          shortId(s.attributes.id),
          s.attributes.metadata.name,
          cpuPercent(s.cpu, old.cpu),
          humanSize(mem),
          humanSize(s.writableLayer?.usedBytes?.value ?? 0),
          String(s.writableLayer?.inodesUsed?.value ?? 0),
        ]);
      }
      return renderTable(["CONTAINER", "NAME", "CPU %", "MEM", "DISK", "INODES"], rows);
    });
  },
});

/** The stats `filter` selects, or, when IDs are given, those of each ID (one call per ID, as crictl). */
async function statsOf<F extends object, S>(
  ids: string[],
  filter: F,
  call: (filter: F & { id?: string }) => Promise<{ stats: S[] }>,
): Promise<S[]> {
  if (ids.length === 0) return (await call(filter)).stats;
  const answers = await Promise.all(ids.map((id) => call({ ...filter, id })));
  return answers.flatMap((a) => a.stats);
}

export const statspCommand = defineCommand({
  args: {
    ...sharedArgs,
    pods: { type: "positional", description: "Pod ID(s) or prefixes (default: all)", required: false },
    id: { type: "string", description: "Filter by pod ID (as the positional ID)" },
  },
  async run({ args, rawArgs }) {
    const format = outputFormat(args, ["json", "yaml", "table"], "table");
    const sample = sampleMs(args.seconds);
    const ids = [...new Set(args._)];
    if (args.id) ids.push(args.id);
    const labels = labelSelector(rawArgs);
    const cri = connect(args as ConnectArgs);
    const filter = labels ? { labelSelector: labels } : {};
    const list = (): Promise<PodSandboxStats[]> =>
      statsOf(ids, filter, (f) => cri.listPodSandboxStats({ filter: f }));
    if (format !== "table") {
      printStructured("listPodSandboxStats", { stats: await list() }, format);
      return;
    }
    await showTable(args.watch, async () => {
      const before = new Map((await list()).map((s) => [s.attributes.id, s]));
      await sleep(sample);
      const rows: string[][] = [];
      for (const s of await list()) {
        const cpu = s.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0;
        const mem = s.linux?.memory?.workingSetBytes?.value ?? 0;
        if (cpu === 0 && mem === 0) continue;
        const old = before.get(s.attributes.id);
        if (!old) continue;
        rows.push([
          s.attributes.metadata.name,
          shortId(s.attributes.id),
          cpuPercent(s.linux?.cpu, old.linux?.cpu),
          humanSize(mem),
        ]);
      }
      return renderTable(["POD", "POD ID", "CPU %", "MEM"], rows);
    });
  },
});
