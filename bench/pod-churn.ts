/**
 * Memory probe (not timed): does the runtime keep anything per pod once the pod is gone? Runs --pods
 * pod lifecycles (RunPodSandbox, CreateContainer, StartContainer, the status and list calls, StopPodSandbox,
 * RemovePodSandbox) through the gRPC server and client of servin (real sockets, real protobuf) over
 * runtime-core with its memory backend and file store, and prints the V8 heap after a full GC at the start,
 * after a warm-up, and after every tenth of the run. A leak shows as a heap that keeps growing after
 * the warm-up.
 *
 * Run: node --expose-gc --conditions=source --import tsx bench/pod-churn.ts [--pods 1000]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriGrpcServer } from "../packages/cri-grpc/src/index.js";
import { createImageService, createMemoryImageBackend } from "../packages/image-store/src/index.js";
import {
  createFileStore,
  createMemoryBackend,
  createRuntimeService,
} from "../packages/runtime-core/src/index.js";
import { RawCriClient } from "./lib/status-scale.js";

const i = process.argv.indexOf("--pods");
const PODS = i > 0 ? Number(process.argv[i + 1]) : 1000;
const WARMUP = Math.min(100, Math.floor(PODS / 10));
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with node --expose-gc");

const dir = mkdtempSync(join(tmpdir(), "servin-churn-"));
const images = await createImageService({ backend: createMemoryImageBackend() });
const runtime = await createRuntimeService({
  backend: createMemoryBackend(),
  images,
  store: await createFileStore(join(dir, "state")),
});
const socket = join(dir, "servin.sock");
const server = createCriGrpcServer({ runtime, images, socketPath: socket });
await server.listen();
const client = new RawCriClient(socket);
const IMAGE = "busybox:latest";
await client.call("PullImage", { image: { image: IMAGE } });

async function heapMb(): Promise<number> {
  for (let k = 0; k < 3; k++) {
    gc?.();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed / 1048576;
}

async function onePod(n: number): Promise<void> {
  const config = {
    metadata: { name: `churn-${n}`, namespace: "churn", uid: `uid-${n}`, attempt: 0 },
    linux: {},
  };
  const { podSandboxId } = await client.call<{ podSandboxId: string }>("RunPodSandbox", { config });
  const { containerId } = await client.call<{ containerId: string }>("CreateContainer", {
    podSandboxId,
    config: {
      metadata: { name: "c", attempt: 0 },
      image: { image: IMAGE },
      command: ["sleep", "1"],
      linux: {},
    },
    sandboxConfig: config,
  });
  await client.call("StartContainer", { containerId });
  await client.call("ContainerStatus", { containerId });
  await client.call("PodSandboxStatus", { podSandboxId });
  await client.call("ListContainers", { filter: {} });
  await client.call("ListPodSandbox", { filter: {} });
  await client.call("StopPodSandbox", { podSandboxId });
  await client.call("RemovePodSandbox", { podSandboxId });
}

const rows: Array<[pods: number, heap: number]> = [[0, await heapMb()]];
for (let n = 0; n < WARMUP; n++) await onePod(n);
rows.push([WARMUP, await heapMb()]);
const step = Math.max(1, Math.floor(PODS / 10));
for (let n = WARMUP; n < WARMUP + PODS; n++) {
  await onePod(n);
  if ((n - WARMUP + 1) % step === 0) rows.push([n + 1, await heapMb()]);
}
client.close();
await server.close();
await runtime.close();
rmSync(dir, { recursive: true, force: true });

const afterWarmup = rows[1]?.[1] ?? 0;
const last = rows[rows.length - 1]?.[1] ?? 0;
process.stdout.write(
  `${rows.map(([p, h]) => `after ${String(p).padStart(5)} pods: heap ${h.toFixed(2)} MB`).join("\n")}\n` +
    `growth over ${PODS} pods after the warm-up: ${((last - afterWarmup) * 1024).toFixed(0)} kB ` +
    `(${(((last - afterWarmup) * 1048576) / PODS).toFixed(0)} B per pod)\n`,
);
