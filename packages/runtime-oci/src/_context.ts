/** What every operation of the OCI backend shares: paths, runtimes, the monitor, exit watchers, host facts. */
import { join } from "node:path";
import type { CniNetwork } from "@servin/cni";
import { CriError } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import type { ExitWatcher } from "./_exits.js";
import type { Monitor } from "./monitor.js";
import type { OciRuntime } from "./oci-runtime.js";
import type { CgroupMode } from "./spec/resources.js";

export interface OciContext {
  root: string;
  stateDir: string;
  runtimes: Map<string, OciRuntime>;
  /** Handlers that are configured but cannot work on this host, with why. */
  runtimeProblems: Map<string, string>;
  defaultRuntime: string;
  monitor: Monitor;
  /** Exit files of containers (reported through onContainerExit). */
  exits: ExitWatcher;
  /** Exit files of pod infra processes (never reported as container exits). */
  sandboxExits: ExitWatcher;
  cgroupMode: CgroupMode;
  /** Default cgroup parent (cgroupfs path without leading slash), e.g. "servin". */
  cgroupParent: string;
  pausePath: string;
  /** How pod infras start: "process" (catatonit through util-linux, sandbox/_infra.ts) or "runtime" (conmon + runc). */
  podInfra: "process" | "runtime";
  nofile: number;
  logger: Logger;
  /** Last CPU sample per container/sandbox, for usage_nano_cores. */
  cpuSamples: Map<string, { usage: bigint; at: bigint }>;
  /** Pod networking; undefined when the backend runs without CNI (pods then get loopback only). */
  cni?: CniNetwork;
  /**
   * Settles once start-up reconcile has run (never rejects): a pod's ADD and
   * DEL wait for it, so reconcile never undoes a pod being created meanwhile.
   */
  cniReconciled: Promise<void>;
  /** Container removals finishing in the background (container/remove.ts), by container ID. */
  removals: Map<string, { sandboxId: string; done: Promise<void> }>;
}

/** Every path is derived from the ID, so a half-created object can always be found and removed. */
export const paths = {
  exitDir: (ctx: OciContext) => join(ctx.stateDir, "exits"),
  sandboxExitDir: (ctx: OciContext) => join(ctx.stateDir, "sandbox-exits"),
  socketDir: (ctx: OciContext) => join(ctx.stateDir, "sockets"),
  runtimeRoot: (ctx: OciContext, handler: string) => join(ctx.stateDir, "runtime", handler),
  bundle: (ctx: OciContext, id: string) => join(ctx.stateDir, "bundles", id),
  /** Runtime files of a pod: the /dev/shm tmpfs. */
  podRun: (ctx: OciContext, id: string) => join(ctx.stateDir, "sandboxes", id),
  /** Persistent files of a pod: hostname, hosts, resolv.conf. */
  podData: (ctx: OciContext, id: string) => join(ctx.root, "sandboxes", id),
  /** Persistent writable layer of a container: upper/, work/ (or rootfs/ for the copy fallback). */
  containerData: (ctx: OciContext, id: string) => join(ctx.root, "containers", id),
};

/** The runtime for a handler name ("" = default), or a clear error. */
export function runtimeFor(ctx: OciContext, handler: string | undefined): OciRuntime {
  const name = handler || ctx.defaultRuntime;
  const problem = ctx.runtimeProblems.get(name);
  if (problem)
    throw CriError.failedPrecondition(`runtime handler "${name}" cannot run on this host: ${problem}`);
  const rt = ctx.runtimes.get(name);
  if (!rt) {
    throw CriError.invalidArgument(
      `runtime handler "${name}" is not configured (known: ${[...ctx.runtimes.keys()].join(", ")})`,
    );
  }
  return rt;
}

/** For removal paths: the runtime if known at all, ignoring host problems (nothing was created with it then). */
export function runtimeIfKnown(ctx: OciContext, handler: string | undefined): OciRuntime | undefined {
  return ctx.runtimes.get(handler || ctx.defaultRuntime);
}

/** Runs undo steps in reverse order, logging (never throwing) their failures: CRI-O's resourceCleaner. */
export class Cleanup {
  private readonly steps: { label: string; fn: () => Promise<unknown> }[] = [];
  constructor(private readonly logger: Logger) {}
  add(label: string, fn: () => Promise<unknown>): void {
    this.steps.push({ label, fn });
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step.fn();
      } catch (err) {
        this.logger.warn(`cleanup "${step.label}" failed: ${(err as Error).message}`);
      }
    }
    this.steps.length = 0;
  }
}
