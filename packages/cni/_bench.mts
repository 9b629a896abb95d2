/**
 * Measures what a pod's network costs on this machine (root, real plugins, fenced bridge svntest0):
 * createNetns, setup (bridge+host-local+portmap ADD), teardown (DEL), removeNetns.
 * Run: node --conditions=source --import tsx packages/cni/_bench.mts [pods]
 */
import { performance } from "node:perf_hooks";
import { CniNetwork } from "./src/index.js";
import { PLUGIN_DIR, testNetUp } from "./test/fixtures/bridge-net.js";

const pods = Number(process.argv[2] ?? 20);
const net = await testNetUp();
try {
  await net.writeConf("10-svntest.conflist", net.conflist("1.0.0"));
  const cni = new CniNetwork({
    confDir: net.confDir,
    cacheDir: net.cacheDir,
    netnsDir: net.netnsDir,
    binDirs: [PLUGIN_DIR],
  });
  await cni.start();
  const t = { netns: [] as number[], add: [] as number[], del: [] as number[], rm: [] as number[] };
  for (let i = 0; i < pods; i++) {
    const id = `bench${i}`;
    let s = performance.now();
    const netnsPath = await cni.createNetns(id);
    t.netns.push(performance.now() - s);
    s = performance.now();
    await cni.setup({
      id,
      netnsPath,
      pod: { podName: id, podNamespace: "bench", podUid: id },
      runtimeConfig: { portMappings: [{ hostPort: 40000 + i, containerPort: 80, protocol: "tcp" }] },
    });
    t.add.push(performance.now() - s);
  }
  for (let i = 0; i < pods; i++) {
    let s = performance.now();
    await cni.teardown(`bench${i}`);
    t.del.push(performance.now() - s);
    s = performance.now();
    await cni.removeNetns(`bench${i}`);
    t.rm.push(performance.now() - s);
  }
  cni.close();
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]?.toFixed(1);
  console.log(
    `${pods} pods, median ms: createNetns ${med(t.netns)}, ADD ${med(t.add)}, DEL ${med(t.del)}, removeNetns ${med(t.rm)}`,
  );
} finally {
  await net.down();
}
