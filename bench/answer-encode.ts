/**
 * Microbenchmark (not a test): the in-process part of a status or list call with 200 containers present,
 * stage by stage — the request's protobuf decode (proto-loader), decodeRequest, dispatch into the runtime
 * service (memory backend, 20 pods × 10 containers: bench/lib/read-scale.ts), encodeResponse to
 * the "proto" wire object, and the answer's bytes (cri-grpc's responseSerialize). µs per call, CPU of
 * this one process (no transport, no other process).
 *
 * Run: node --import tsx bench/answer-encode.ts [--rounds 2000]
 */
import { decodeRequest, dispatchRpc, encodeResponse } from "../packages/cri-messages/src/index.js";
import { benchArg } from "../tooling/conformance/containerd-process.js";
import { cpuUs as cpu, createReadScale } from "./lib/read-scale.js";

const ROUNDS = benchArg("rounds", "BENCH_ROUNDS", 2000);

const scale = await createReadScale();
const { services, opts } = scale;

const rows: string[] = [
  "| answer (µs of CPU per call) | request bytes → object | decodeRequest | dispatch | encodeResponse | serialize | whole path, untimed stages | bytes |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
];
for (const c of scale.cases) {
  const m = c.codec;
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
await scale.close();
