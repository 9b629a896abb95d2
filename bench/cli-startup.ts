/**
 * Benchmark (not a test): how long the servin binary takes to answer `--version` (and `--help`), side by
 * side in one run with the same commands built from an earlier commit, and with `node -e 0` as the floor
 * (Node's own start-up, which no change to servin can remove).
 *
 * The earlier build lives in a separate worktree, built once:
 *   git worktree add /tmp/cli-before <commit>
 *   cd /tmp/cli-before && pnpm install --offline --frozen-lockfile && pnpm --filter "servin..." run build
 *
 * Run: pnpm bench:cli  [--runs 30] [--before /tmp/cli-before]
 * The variants take turns within each round, so load from other processes falls on all of them alike.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const option = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const RUNS = Number(option("runs", "30"));
const ROOT = resolve(import.meta.dirname, "..");
const BEFORE = resolve(option("before", "/tmp/cli-before"));
const binary = (root: string) => join(root, "apps/servin/dist/servin.js");

for (const root of [ROOT, BEFORE])
  if (!existsSync(binary(root))) {
    console.error(`${binary(root)} is missing: build it first (see the header of bench/cli-startup.ts)`);
    process.exit(1);
  }

interface Variant {
  name: string;
  args: string[];
  times: number[];
}
const variants: Variant[] = [
  { name: "node -e 0 (floor)", args: ["-e", "0"], times: [] },
  { name: "before: servin --version", args: [binary(BEFORE), "--version"], times: [] },
  { name: "after:  servin --version", args: [binary(ROOT), "--version"], times: [] },
  { name: "before: servin --help", args: [binary(BEFORE), "--help"], times: [] },
  { name: "after:  servin --help", args: [binary(ROOT), "--help"], times: [] },
];

const run = (v: Variant) => {
  const start = performance.now();
  const res = spawnSync(process.execPath, v.args, {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const ms = performance.now() - start;
  if (res.status !== 0) throw new Error(`${v.name} exited ${res.status}: ${res.stderr}`);
  return { ms, stdout: res.stdout };
};

// Both builds must give the same answers, or the comparison means nothing.
for (const [a, b] of [
  [1, 2],
  [3, 4],
] as const)
  if (run(variants[a]!).stdout !== run(variants[b]!).stdout)
    throw new Error(`"${variants[a]!.name}" and "${variants[b]!.name}" print different output`);

for (const v of variants) run(v); // warm the page cache
for (let round = 0; round < RUNS; round++)
  for (let i = 0; i < variants.length; i++) {
    const v = variants[(i + round) % variants.length]!;
    v.times.push(run(v).ms);
  }

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
const stats = variants.map((v) => ({
  name: v.name,
  median: quantile(v.times, 0.5),
  p90: quantile(v.times, 0.9),
}));
const [floor, beforeVersion, afterVersion, beforeHelp, afterHelp] = stats as [
  (typeof stats)[0],
  (typeof stats)[0],
  (typeof stats)[0],
  (typeof stats)[0],
  (typeof stats)[0],
];

console.log(`${RUNS} runs each, wall time of the whole process (ms)\n`);
console.log(
  `${"command".padEnd(28)}${"median".padStart(9)}${"p90".padStart(9)}${"above floor".padStart(13)}`,
);
for (const s of stats)
  console.log(
    `${s.name.padEnd(28)}${s.median.toFixed(1).padStart(9)}${s.p90.toFixed(1).padStart(9)}${(s.median - floor.median).toFixed(1).padStart(13)}`,
  );
const ratio = (after: typeof floor, before: typeof floor) => ({
  wall: after.median / before.median,
  aboveFloor: (after.median - floor.median) / (before.median - floor.median),
});
const version = ratio(afterVersion, beforeVersion);
const help = ratio(afterHelp, beforeHelp);
console.log(
  `\n--version after/before: ${version.wall.toFixed(2)}× wall, ${version.aboveFloor.toFixed(2)}× above the floor`,
);
console.log(
  `--help    after/before: ${help.wall.toFixed(2)}× wall, ${help.aboveFloor.toFixed(2)}× above the floor`,
);

mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench/results/cli-startup.json"),
  `${JSON.stringify({ runs: RUNS, before: BEFORE, stats, ratios: { version, help } }, null, 2)}\n`,
);
