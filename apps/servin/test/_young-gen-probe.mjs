// Preloaded into the servin binary by young-generation-e2e.test.ts (node --import): on SIGUSR2, a burst
// of allocation in which many objects survive a few scavenges (what makes V8 grow its young
// generation), then the young generation's size on stderr. With YOUNG_GEN_PROBE_WORKER=1 a worker
// thread starts first (as image-store's unpack workers do) and the burst runs once it is online.
import { once } from "node:events";
import { getHeapSpaceStatistics } from "node:v8";
import { Worker } from "node:worker_threads";

process.on("SIGUSR2", async () => {
  let worker;
  if (process.env.YOUNG_GEN_PROBE_WORKER === "1") {
    worker = new Worker("setInterval(() => {}, 1000)", { eval: true });
    await once(worker, "online");
  }
  let live = [];
  for (let round = 0; round < 400; round++) {
    live.push(Array.from({ length: 5000 }, (_, i) => ({ i, s: `x${i}` })));
    if (live.length > 40) live.shift();
  }
  live = [];
  await worker?.terminate();
  const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  process.stderr.write(`young-generation ${young?.space_size ?? -1}\n`);
});
