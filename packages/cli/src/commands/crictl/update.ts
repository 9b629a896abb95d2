/** `servin update ID… --cpu-share … --memory …`: crictl's update, UpdateContainerResources (Linux). */
import type { LinuxContainerResources } from "@servin/cri-types";
import { defineCommand } from "citty";
import { connect, connectArgs } from "../../connect.js";

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A non-negative integer flag; `--memory` also takes docker's suffixes (512m, 1g: binary units). */
function integer(flag: string, value: string, suffixes = false): number {
  const m = (suffixes ? /^(\d+)([bkmgt]?)b?$/i : /^(\d+)()$/).exec(value.trim());
  const n = m ? Number(m[1]) * UNITS[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new Error(
      `--${flag}: expected a non-negative integer${suffixes ? " (bytes, or 512m, 1g)" : ""}, got "${value}"`,
    );
  return n;
}

export const updateCommand = defineCommand({
  args: {
    ...connectArgs,
    id: { type: "positional", description: "Container ID(s) or prefixes", required: true },
    "cpu-share": {
      type: "string",
      alias: "cpu-shares",
      description: "CPU shares (relative weight vs. other containers)",
    },
    "cpu-period": { type: "string", description: "CPU CFS period in microseconds (0: the system default)" },
    "cpu-quota": { type: "string", description: "CPU CFS quota in microseconds per period" },
    memory: { type: "string", description: "Memory limit in bytes (or 512m, 1g)" },
    "cpuset-cpus": { type: "string", description: "CPUs the container may use (0-3, 0,1)" },
    "cpuset-mems": { type: "string", description: "Memory nodes the container may use (0-3, 0,1)" },
  },
  async run({ args }) {
    const linux: LinuxContainerResources = {};
    if (args["cpu-share"] !== undefined) linux.cpuShares = integer("cpu-share", args["cpu-share"]);
    if (args["cpu-period"] !== undefined) linux.cpuPeriod = integer("cpu-period", args["cpu-period"]);
    if (args["cpu-quota"] !== undefined) linux.cpuQuota = integer("cpu-quota", args["cpu-quota"]);
    if (args.memory !== undefined) linux.memoryLimitInBytes = integer("memory", args.memory, true);
    for (const [flag, key] of [
      ["cpuset-cpus", "cpusetCpus"],
      ["cpuset-mems", "cpusetMems"],
    ] as const) {
      const value = args[flag];
      if (value === undefined) continue;
      if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(value))
        throw new Error(`--${flag}: expected a list such as 0-3 or 0,2, got "${value}"`);
      linux[key] = value;
    }
    if (Object.keys(linux).length === 0)
      throw new Error(
        "update: nothing to change (give --cpu-share, --cpu-period, --cpu-quota, --memory, --cpuset-cpus or --cpuset-mems)",
      );
    const cri = connect(args, 60_000);
    for (const id of new Set(args._)) {
      await cri.updateContainerResources({ containerId: id, linux });
      process.stdout.write(`${id}\n`);
    }
  },
});
