import { setFlagsFromString } from "node:v8";

/**
 * V8's young generation starts at 1 MB and grows up to 32 MB under load, and once grown stays grown:
 * that is ~15 MB of an idle daemon's anonymous memory, and over a long pod churn the native memory
 * under it keeps rising (issue 13: +2.5-3 MB per 1,000 pods, flat with a 1 MB young generation).
 * Keeping it at its start size is a run-time flag (V8 reads it whenever the young generation would
 * grow), so it reaches every way servin starts: the `servin` bin, `node …/servin.js`, the systemd
 * unit. Set here, before any other module loads. A semi-space flag of the user's own (node's command
 * line or NODE_OPTIONS) wins.
 */
const nodeFlags = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
// V8 takes "_" for "-" in flag names: a user's --max_semi_space_size wins too.
if (!/--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/.test(nodeFlags)) {
  const pin = () => setFlagsFromString("--semi-space-growth-factor=1");
  pin();
  // V8's flags are the process's, and a worker thread's isolate puts this one back to its floor (2)
  // as it starts: after the first pull with an unpack worker (image-store), the daemon's young
  // generation grew to 16 MB again. Pinned again as soon as each worker runs.
  process.on("worker", (worker) => worker.once("online", pin));
}

const { runServin } = await import("@servin/cli/main");
await runServin(process.argv.slice(2));
