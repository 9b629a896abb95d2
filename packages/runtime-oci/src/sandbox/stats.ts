/** PodSandboxStats: the pod cgroup's CPU, memory and pids, and the pod network namespace's interfaces. */
import { readFile } from "node:fs/promises";
import type { LinuxPodSandboxStats } from "@servin/cri-types";
import { nowNanos } from "@servin/cri-types";
import type { SandboxRecord } from "@servin/runtime-core";
import { readCgroupStats } from "../_cgroups.js";
import { type OciContext, runtimeIfKnown } from "../_context.js";
import { cpuUsage, memoryUsage } from "../_usage.js";
import { infraAlive, sandboxState } from "./_state.js";

export async function sandboxStats(
  ctx: OciContext,
  sandbox: SandboxRecord,
): Promise<Omit<LinuxPodSandboxStats, "containers">> {
  const state = sandboxState(ctx, sandbox);
  const at = nowNanos();
  const sample = await readCgroupStats(ctx.cgroupMode, state.cgroupParent);
  const out: Omit<LinuxPodSandboxStats, "containers"> = {
    cpu: cpuUsage(ctx, sandbox.id, sample, at),
    memory: memoryUsage(sample, at),
  };
  if (sample.pids !== undefined) out.process = { timestamp: at, processCount: { value: sample.pids } };
  const st =
    state.infra === "process"
      ? (await infraAlive(ctx, state, sandbox.id))
        ? { pid: state.pid }
        : undefined
      : await runtimeIfKnown(ctx, state.runtime)
          ?.state(sandbox.id)
          .catch(() => undefined);
  if (st && st.pid > 0 && state.modes.network === "pod") {
    const dev = await readFile(`/proc/${st.pid}/net/dev`, "utf8").catch(() => "");
    const interfaces = parseNetDev(dev).filter((i) => i.name !== "lo");
    const first = interfaces[0];
    out.network = first
      ? { timestamp: at, defaultInterface: first, interfaces }
      : { timestamp: at, interfaces: [] };
  }
  return out;
}

function parseNetDev(text: string) {
  const out: {
    name: string;
    rxBytes: { value: number };
    rxErrors: { value: number };
    txBytes: { value: number };
    txErrors: { value: number };
  }[] = [];
  for (const line of text.split("\n").slice(2)) {
    const [name, rest] = line.split(":");
    if (!name || !rest) continue;
    const f = rest.trim().split(/\s+/).map(Number);
    out.push({
      name: name.trim(),
      rxBytes: { value: f[0] ?? 0 },
      rxErrors: { value: f[2] ?? 0 },
      txBytes: { value: f[8] ?? 0 },
      txErrors: { value: f[10] ?? 0 },
    });
  }
  return out;
}
