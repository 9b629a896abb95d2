/**
 * PullImage of the large bench image (bench/lib/big-image.ts) for `pnpm bench:cri`: `crictl rmi` then
 * `crictl pull` per side, rounds in ABBA order, wall time per pull — the method of
 * bench/image-pull-large.ts, which measures more (CPU, peak RSS) and runs alone.
 */
import { crictl } from "../../tooling/conformance/servin-process.js";
import { ensureBigImage } from "./big-image.js";

/**
 * Pulls the big image `rounds` times per side (ABBA), each pull cold (`rmi` first); answers ms per pull.
 *
 * @example
 * const { ms } = await pullRounds({ servin: servinSock, containerd: ctrdSock }, 3);
 */
export async function pullRounds<S extends string>(
  sockets: Record<S, string>,
  rounds: number,
  log: (line: string) => void = () => undefined,
): Promise<{ ref: string; ms: Record<S, number[]> }> {
  const ref = await ensureBigImage();
  const sides = Object.keys(sockets) as S[];
  const ms = Object.fromEntries(sides.map((s) => [s, [] as number[]])) as Record<S, number[]>;
  // One untimed pull per side first: the registry's blobs are then in the page cache for both.
  for (const side of sides) await crictl(sockets[side])(["pull", ref], 10 * 60_000);
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      const c = crictl(sockets[side]);
      await c(["rmi", ref]);
      const t0 = performance.now();
      const res = await c(["pull", ref], 10 * 60_000);
      const t = performance.now() - t0;
      if (res.code !== 0) throw new Error(`${side}: crictl pull ${ref} failed: ${res.stderr.trim()}`);
      ms[side].push(t);
      log(`pull ${side}: ${(t / 1000).toFixed(2)} s`);
    }
  }
  for (const side of sides) await crictl(sockets[side])(["rmi", ref]);
  return { ref, ms };
}
