/**
 * A reader that goes away early: `servin logs ID | head -1` and `servin cri status | head -1` end quietly
 * with exit 0 (as `git log | head` does), and a daemon whose log pipes close keeps serving.
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriClient } from "@servin/cri-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, BINARY, type RunningServin, removeDir, startServin } from "./_binary.js";

const memory = ["--backend", "memory", "--image-backend", "memory", "--no-grpc"];

/** Runs `servin ARGS…` with stdout piped to a reader that closes its end after the first chunk, like `| head -1`. */
function runIntoClosingReader(
  args: string[],
): Promise<{ code: number | null; signal: string | null; stderr: string; firstChunk: string }> {
  assertBuilt();
  return new Promise((done) => {
    const child = spawn(process.execPath, [BINARY, ...args], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let firstChunk = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.once("data", (d) => {
      firstChunk = String(d);
      child.stdout.destroy();
    });
    child.on("close", (code, signal) => done({ code, signal, stderr, firstChunk }));
  });
}

describe("a reader that closes early", () => {
  let servin: RunningServin;
  let containerId: string;
  let logDir: string;

  beforeAll(async () => {
    servin = await startServin(memory);
    const cri = createCriClient({ baseUrl: servin.url });
    logDir = await mkdtemp(join(tmpdir(), "servin-epipe-logs-"));
    await cri.pullImage({ image: { image: "busybox:1.36" } });
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "epipe", namespace: "default", uid: "e1" }, logDirectory: logDir },
    });
    ({ containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "talker" }, image: { image: "busybox:1.36" }, logPath: "talker.log" },
    }));
    const { status } = await cri.containerStatus({ containerId });
    // Far more than a pipe's 64 KiB buffer, so the writer is still writing when the reader leaves.
    const line = (i: number) => `2026-01-01T00:00:00.000000000Z stdout F line ${i} ${"x".repeat(100)}\n`;
    await writeFile(status.logPath!, Array.from({ length: 20_000 }, (_, i) => line(i)).join(""));
  }, 90_000);

  afterAll(async () => {
    await servin?.stop();
    if (servin) await removeDir(servin.dir);
    if (logDir) await removeDir(logDir);
  });

  it("`servin logs ID | head -1` exits 0 without an EPIPE trace", async () => {
    const run = await runIntoClosingReader(["logs", containerId, "--port", String(servin.port)]);
    expect(run.firstChunk).toContain("line 0 ");
    expect(run.stderr).not.toMatch(/EPIPE|Error/);
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
  });

  it("`servin cri status | head -1` exits 0 without an EPIPE trace", async () => {
    const run = await runIntoClosingReader(["cri", "status", "--verbose", "--port", String(servin.port)]);
    expect(run.firstChunk).toContain("servin at");
    expect(run.stderr).not.toMatch(/EPIPE|Error/);
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
  });

  it("a daemon whose stdout and stderr readers are gone keeps serving", async () => {
    const daemon = await startServin(["--verbose", ...memory]);
    try {
      daemon.child.stdout!.destroy();
      daemon.child.stderr!.destroy();
      const cri = createCriClient({ baseUrl: daemon.url });
      // Each request is logged (--verbose), so the daemon writes into the closed pipes many times over.
      for (let i = 0; i < 20; i++) {
        await cri.version({});
        await cri.listPodSandbox({});
        await expect(cri.containerStatus({ containerId: `missing-${i}` })).rejects.toThrow();
      }
      const health = await fetch(`${daemon.url}/health`);
      expect(health.status).toBe(200);
      expect((await cri.version({})).runtimeName).toBe("servin");
      expect(daemon.child.exitCode).toBeNull();
      expect(daemon.child.signalCode).toBeNull();
    } finally {
      await daemon.stop();
      await removeDir(daemon.dir);
    }
  });
});
