/**
 * The daemon keeps V8's young generation at its start size (issue 13: idle memory and no growth over a
 * pod churn): the built binary, started as `node …/servin.js` (the `servin` bin and the systemd unit run
 * the same file), under a burst of allocation that grows a default young generation to 32 MB; a
 * semi-space flag of the user's own is left alone.
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  assertBuilt,
  BINARY,
  collectOutput,
  criStartArgs,
  removeDir,
  stopChild,
  untilListening,
} from "./_binary.js";

const PROBE = resolve(import.meta.dirname, "_young-gen-probe.mjs");
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Starts the binary (memory backends) with `nodeArgs`, bursts allocation in it, answers its young generation's size in bytes. */
async function youngGenerationAfterBurst(nodeArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  assertBuilt();
  const dir = await mkdtemp(join(tmpdir(), "servin-young-"));
  cleanups.push(() => removeDir(dir));
  await writeFile(join(dir, "none.toml"), "");
  const args = criStartArgs(dir, 0, join(dir, "none.toml"));
  const child = spawn(
    process.execPath,
    [...nodeArgs, "--import", PROBE, BINARY, ...args, "--backend", "memory", "--image-backend", "memory"],
    { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  cleanups.push(() => stopChild(child, "SIGTERM"));
  const output = collectOutput(child);
  const url = await untilListening(child, output);
  expect((await fetch(`${url}/health`)).status).toBe(200);
  child.kill("SIGUSR2");
  let size = -1;
  await vi.waitFor(
    () => {
      const m = /young-generation (-?\d+)/.exec(output());
      expect(m, output().slice(-2000)).not.toBeNull();
      size = Number(m?.[1]);
    },
    { timeout: 30_000, interval: 100 },
  );
  return size;
}

describe("servin's young generation", () => {
  it("stays at its start size (at most 2 MB) under a burst that grows node's default to 32 MB", async () => {
    const size = await youngGenerationAfterBurst([]);
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(2 << 20);
  });

  it("stays at its start size once a worker thread started (V8 puts the flag back to its floor then)", async () => {
    const size = await youngGenerationAfterBurst([], { YOUNG_GEN_PROBE_WORKER: "1" });
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThanOrEqual(2 << 20);
  });

  it("is left to the user's own semi-space flag, on node's command line or in NODE_OPTIONS", async () => {
    expect(await youngGenerationAfterBurst(["--max-semi-space-size=16"])).toBeGreaterThan(2 << 20);
    expect(await youngGenerationAfterBurst([], { NODE_OPTIONS: "--max-semi-space-size=16" })).toBeGreaterThan(
      2 << 20,
    );
  });
});
