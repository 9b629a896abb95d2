/**
 * N pods (and N containers) started concurrently, for `pnpm bench:cri` (issue #13: critest's
 * `podsNumberParallel: 10`, `containersNumberParallel: 10`). critest 1.26.1 (the kit's) cannot measure
 * this: its gomega `gmeasure` `Experiment.Sample` returns as soon as the last sample is handed to a
 * worker, without waiting for the workers, so the pod benchmark sends its results' end marker while pods
 * are still being created, writes no datapoints, and critest exits with calls in flight (later gomega
 * waits on a WaitGroup). So the same operations as critest's samples are made here, through the bench's
 * own gRPC client (bench/lib/status-scale.ts), one HTTP/2 connection per worker, all workers at once:
 * - pod sample: RunPodSandbox, PodSandboxStatus, StopPodSandbox, RemovePodSandbox;
 * - container sample: RunPodSandbox (untimed), CreateContainer, StartContainer, ContainerStatus,
 *   StopContainer, RemoveContainer, then the pod stopped and removed (untimed).
 * Wall times: from the first RunPodSandbox (CreateContainer) sent to the last pod ready (container
 * started), and the whole set (first call to last removal).
 */
import { RawCriClient, STATUS_SCALE_IMAGE } from "./status-scale.js";

export interface ParallelResult {
  /** First RunPodSandbox sent → last RunPodSandbox answered, ms. */
  podsStartedMs: number;
  /** First RunPodSandbox sent → last RemovePodSandbox answered, ms. */
  podsLifecycleMs: number;
  /** First CreateContainer sent → last StartContainer answered (each worker's pod made before), ms. */
  containersStartedMs: number;
  /** First CreateContainer sent → last RemoveContainer answered, ms. */
  containersLifecycleMs: number;
  /** Per-call durations, ms, keyed by CRI call. */
  ops: Record<string, number[]>;
}

const now = () => performance.now();

function podConfig(ns: string, name: string, uid: string) {
  return {
    metadata: { name, namespace: ns, uid, attempt: 0 },
    hostname: name,
    logDirectory: "",
    labels: { bench: "parallel" },
    linux: {},
  };
}

/**
 * Runs `n` pod samples at once, then `n` container samples at once, against `socket`.
 *
 * @example
 * const r = await parallelStart("/run/servin.sock", 10, "servin-r1");
 * r.podsStartedMs; // wall time of 10 RunPodSandbox calls made at once
 */
export async function parallelStart(
  socket: string,
  n: number,
  tag: string,
  ns = "bench-parallel",
): Promise<ParallelResult> {
  const clients = Array.from({ length: n }, () => new RawCriClient(socket));
  const ops: Record<string, number[]> = {};
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = now();
    const v = await fn();
    const list = ops[name] ?? [];
    list.push(now() - t0);
    ops[name] = list;
    return v;
  };
  const leftovers: Array<[RawCriClient, string]> = [];
  try {
    // Warm the connections (and the image) so that the first timed call does not pay for them.
    await Promise.all(clients.map((c) => c.call("Version", {})));
    await clients[0]?.call("PullImage", { image: { image: STATUS_SCALE_IMAGE } });

    let podsReady = 0;
    const t0 = now();
    await Promise.all(
      clients.map(async (c, i) => {
        const config = podConfig(ns, `par-pod-${i}`, `par-${tag}-pod-${i}-${process.pid}`);
        const { podSandboxId } = await timed("RunPodSandbox", () =>
          c.call<{ podSandboxId: string }>("RunPodSandbox", { config }),
        );
        podsReady = Math.max(podsReady, now());
        leftovers.push([c, podSandboxId]);
        await timed("PodSandboxStatus", () => c.call("PodSandboxStatus", { podSandboxId, verbose: true }));
        await timed("StopPodSandbox", () => c.call("StopPodSandbox", { podSandboxId }));
        await timed("RemovePodSandbox", () => c.call("RemovePodSandbox", { podSandboxId }));
        leftovers.splice(
          leftovers.findIndex(([, id]) => id === podSandboxId),
          1,
        );
      }),
    );
    const podsDone = now();

    const pods = await Promise.all(
      clients.map(async (c, i) => {
        const config = podConfig(ns, `par-ctr-pod-${i}`, `par-${tag}-ctr-${i}-${process.pid}`);
        const { podSandboxId } = await c.call<{ podSandboxId: string }>("RunPodSandbox", { config });
        leftovers.push([c, podSandboxId]);
        return { config, podSandboxId };
      }),
    );
    let started = 0;
    const c0 = now();
    await Promise.all(
      clients.map(async (c, i) => {
        const { config, podSandboxId } = pods[i] as (typeof pods)[number];
        const { containerId } = await timed("CreateContainer", () =>
          c.call<{ containerId: string }>("CreateContainer", {
            podSandboxId,
            config: {
              metadata: { name: `c${i}`, attempt: 0 },
              image: { image: STATUS_SCALE_IMAGE },
              command: ["sleep", "3600"],
              linux: {},
            },
            sandboxConfig: config,
          }),
        );
        await timed("StartContainer", () => c.call("StartContainer", { containerId }));
        started = Math.max(started, now());
        await timed("ContainerStatus", () => c.call("ContainerStatus", { containerId, verbose: true }));
        await timed("StopContainer", () => c.call("StopContainer", { containerId, timeout: 0 }));
        await timed("RemoveContainer", () => c.call("RemoveContainer", { containerId }));
      }),
    );
    const containersDone = now();
    return {
      podsStartedMs: podsReady - t0,
      podsLifecycleMs: podsDone - t0,
      containersStartedMs: started - c0,
      containersLifecycleMs: containersDone - c0,
      ops,
    };
  } finally {
    for (const [c, pod] of leftovers) {
      await c.call("StopPodSandbox", { podSandboxId: pod }).catch(() => undefined);
      await c.call("RemovePodSandbox", { podSandboxId: pod }).catch(() => undefined);
    }
    for (const c of clients) c.close();
  }
}
