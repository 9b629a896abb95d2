/**
 * The in-process set-up of the read-call microbenchmarks (bench/answer-encode.ts, bench/read-path.ts):
 * a runtime service over the memory backend with 20 pods × 10 started containers (shaped like
 * bench/cri-calls.ts's), an image service with three images, and the six status and list calls to time,
 * each with its gRPC codec.
 */
import { type CriServiceDefinitions, criServiceDefinitions } from "../../packages/cri-grpc/src/proto.js";
import type { RpcName } from "../../packages/cri-messages/src/index.js";
import { createMemoryImageBackend } from "../../packages/image-store/src/backends/memory.js";
import { createImageService } from "../../packages/image-store/src/service.js";
import { containerConfig, createHarness, podConfig } from "../../packages/runtime-core/src/_test-harness.js";

/** What a benchmark needs of a grpc-js method definition. */
export interface Codec {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): unknown;
  responseSerialize(v: unknown): Buffer;
}

export interface ReadCase {
  name: string;
  rpc: RpcName;
  request: (k: number) => unknown;
  codec: Codec;
}

/**
 * @example
 * const scale = await createReadScale();
 * for (const c of scale.cases) await dispatchRpc(scale.services, c.rpc, c.request(0) as never, scale.opts);
 * await scale.close();
 */
export async function createReadScale() {
  const h = await createHarness();
  const runtime = h.runtime;
  await runtime.recovered;
  const pods: string[] = [];
  const containers: string[] = [];
  for (let p = 0; p < 20; p++) {
    const config = podConfig(`scale-${p}`, { labels: {} });
    const { podSandboxId } = await runtime.runPodSandbox({ config });
    pods.push(podSandboxId);
    for (let c = 0; c < 10; c++) {
      const { containerId } = await runtime.createContainer({
        podSandboxId,
        config: containerConfig(`c${c}`, { labels: { bench: "status-scale", index: String(c) } }),
        sandboxConfig: config,
      });
      await runtime.startContainer({ containerId });
      containers.push(containerId);
    }
  }
  const images = await createImageService({ backend: createMemoryImageBackend() });
  const image = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
  for (const ref of [image, "registry.k8s.io/pause:3.9", "docker.io/library/alpine:3.20"])
    await images.pullImage({ image: { image: ref } });

  const defs: CriServiceDefinitions = criServiceDefinitions("v1");
  const codec = (name: string) => (defs.RuntimeService[name] ?? defs.ImageService[name]) as unknown as Codec;
  const call = (name: string, rpc: RpcName, request: (k: number) => unknown): ReadCase => ({
    name,
    rpc,
    request,
    codec: codec(name),
  });
  const cases: ReadCase[] = [
    call("ContainerStatus", "containerStatus", (k) => ({
      containerId: containers[(k * 7) % containers.length],
    })),
    call("PodSandboxStatus", "podSandboxStatus", (k) => ({ podSandboxId: pods[(k * 7) % pods.length] })),
    call("ListContainers", "listContainers", () => ({ filter: {} })),
    call("ListPodSandbox", "listPodSandbox", () => ({ filter: {} })),
    call("ImageStatus", "imageStatus", () => ({ image: { image } })),
    call("ListImages", "listImages", () => ({ filter: {} })),
  ];
  return {
    services: { runtime, image: images },
    opts: { transport: "grpc" as const },
    cases,
    async close() {
      await h.close();
      await images.close();
    },
  };
}

/** This process's CPU time so far, µs. */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
