/**
 * Microbenchmark (not a test): the in-process part of a status or list call with 200 containers present,
 * stage by stage — the request's protobuf decode (proto-loader), decodeRequest, dispatch into the runtime
 * service (memory backend, 20 pods × 10 containers shaped like bench/cri-calls.ts's), encodeResponse to
 * the "proto" wire object, and the answer's bytes (cri-grpc's responseSerialize). µs per call, CPU of
 * this one process (no transport, no other process).
 *
 * Run: node --import tsx bench/answer-encode.ts [--rounds 2000]
 */
import { type CriServiceDefinitions, criServiceDefinitions } from "../packages/cri-grpc/src/proto.js";
import {
  decodeRequest,
  dispatchRpc,
  encodeResponse,
  type RpcName,
} from "../packages/cri-messages/src/index.js";
import { createMemoryImageBackend } from "../packages/image-store/src/backends/memory.js";
import { createImageService } from "../packages/image-store/src/service.js";
import { containerConfig, createHarness, podConfig } from "../packages/runtime-core/src/_test-harness.js";

const ROUNDS = Number(process.argv[process.argv.indexOf("--rounds") + 1] || 0) || 2000;

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

const defs: CriServiceDefinitions = criServiceDefinitions("v1");
interface Def {
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): unknown;
  responseSerialize(v: unknown): Buffer;
}
const method = (name: string) => (defs.RuntimeService[name] ?? defs.ImageService[name]) as unknown as Def;
const images = await createImageService({ backend: createMemoryImageBackend() });
const IMAGE = "registry.k8s.io/e2e-test-images/busybox:1.29-2";
for (const image of [IMAGE, "registry.k8s.io/pause:3.9", "docker.io/library/alpine:3.20"])
  await images.pullImage({ image: { image } });
const services = { runtime, image: images };
const opts = { transport: "grpc" as const };

interface Case {
  name: string;
  rpc: RpcName;
  request: (k: number) => unknown;
}
const cases: Case[] = [
  {
    name: "ContainerStatus",
    rpc: "containerStatus",
    request: (k) => ({ containerId: containers[(k * 7) % containers.length] }),
  },
  {
    name: "PodSandboxStatus",
    rpc: "podSandboxStatus",
    request: (k) => ({ podSandboxId: pods[(k * 7) % pods.length] }),
  },
  { name: "ListContainers", rpc: "listContainers", request: () => ({ filter: {} }) },
  { name: "ListPodSandbox", rpc: "listPodSandbox", request: () => ({ filter: {} }) },
  { name: "ImageStatus", rpc: "imageStatus", request: () => ({ image: { image: IMAGE } }) },
  { name: "ListImages", rpc: "listImages", request: () => ({ filter: {} }) },
];

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const rows: string[] = [
  "| answer (µs of CPU per call) | request bytes → object | decodeRequest | dispatch | encodeResponse | serialize | whole path, untimed stages | bytes |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const c of cases) {
  const m = method(c.name);
  const raw = Array.from({ length: 64 }, (_, k) => m.requestSerialize(c.request(k)));
  const t: number[] = [0, 0, 0, 0, 0];
  let size = 0;
  for (let round = -200; round < ROUNDS; round++) {
    const on = round >= 0;
    let t0 = cpu();
    const wireReq = m.requestDeserialize(raw[(round + 200) % raw.length] as Buffer);
    let t1 = cpu();
    if (on) t[0] = (t[0] as number) + t1 - t0;
    t0 = t1;
    const req = decodeRequest(c.rpc, wireReq, "proto");
    t1 = cpu();
    if (on) t[1] = (t[1] as number) + t1 - t0;
    t0 = t1;
    const result = await dispatchRpc(services, c.rpc, req as never, opts);
    t1 = cpu();
    if (on) t[2] = (t[2] as number) + t1 - t0;
    t0 = t1;
    const wire = encodeResponse(c.rpc, result as never, "proto");
    t1 = cpu();
    if (on) t[3] = (t[3] as number) + t1 - t0;
    t0 = t1;
    const bytes = m.responseSerialize(wire);
    t1 = cpu();
    if (on) t[4] = (t[4] as number) + t1 - t0;
    size = bytes.length;
  }
  const per = t.map((x) => x / ROUNDS);
  // The whole path again without the clock reads between stages (they cost about a µs each).
  const c0 = cpu();
  for (let round = 0; round < ROUNDS; round++) {
    const wireReq = m.requestDeserialize(raw[round % raw.length] as Buffer);
    const req = decodeRequest(c.rpc, wireReq, "proto");
    const result = await dispatchRpc(services, c.rpc, req as never, opts);
    m.responseSerialize(encodeResponse(c.rpc, result as never, "proto"));
  }
  const total = (cpu() - c0) / ROUNDS;
  rows.push(`| ${c.name} | ${per.map((x) => x.toFixed(1)).join(" | ")} | ${total.toFixed(1)} | ${size} |`);
}
process.stdout.write(`${rows.join("\n")}\n`);
await h.close();
await images.close();
