/** PodSandboxStatus: is the infra process alive, and what the pod is made of (verbose info). */
import type { SandboxObservation, SandboxRecord } from "@servin/runtime-core";
import { type OciContext, paths, runtimeIfKnown } from "../_context.js";
import { podNetwork } from "./_network.js";
import { infraAlive, sandboxState } from "./_state.js";

export async function inspectSandbox(ctx: OciContext, sandbox: SandboxRecord): Promise<SandboxObservation> {
  const state = sandboxState(ctx, sandbox);
  const runtime = runtimeIfKnown(ctx, state.runtime);
  const live = await infraAlive(ctx, state, sandbox.id);
  const st = live
    ? { status: "running", pid: state.pid }
    : state.infra === "process"
      ? { status: "stopped", pid: 0 }
      : runtime
        ? await runtime.state(sandbox.id).catch(() => undefined)
        : undefined;
  const network = state.netns ? await podNetwork(ctx, sandbox) : undefined;
  // A CNI pod whose attachment is gone (reconcile undid an interrupted ADD) has lost its network: not ready.
  const ready = st?.status === "running" && (state.netns === undefined || network !== undefined);
  return {
    ready,
    network: network ?? {},
    info: {
      pid: st?.pid ?? 0,
      runtime: state.infra === "process" ? "process" : state.runtime,
      runtimeStatus: st?.status ?? "missing",
      bundle: paths.bundle(ctx, sandbox.id),
      cgroupParent: state.cgroupParent,
      namespaces: state.modes,
      hostname: state.hostname,
      ...(state.seccomp ? { seccomp: state.seccomp } : {}),
      network: state.netns
        ? { netns: state.netns, ...(network ?? { attached: false }) }
        : state.modes.network === "node"
          ? "host network"
          : "no CNI network configured: isolated network namespace with loopback only",
    },
  };
}
