// Preloaded into the servin binary by young-generation-e2e.test.ts (node --import): on SIGUSR2, a burst
// of allocation in which many objects survive a few scavenges (what makes V8 grow its young
// generation), then the young generation's size on stderr.
import { getHeapSpaceStatistics } from "node:v8";

process.on("SIGUSR2", () => {
  let live = [];
  for (let round = 0; round < 400; round++) {
    live.push(Array.from({ length: 5000 }, (_, i) => ({ i, s: `x${i}` })));
    if (live.length > 40) live.shift();
  }
  live = [];
  const young = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
  process.stderr.write(`young-generation ${young?.space_size ?? -1}\n`);
});
