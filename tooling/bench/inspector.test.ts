/**
 * bench/lib/inspector.ts against a real Node child started with `--inspect=127.0.0.1:0`: the churn
 * probe of `pnpm bench:cri` reads a daemon's heap after a forced GC through it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { heapAfterGc, InspectorClient, inspectorUrl } from "../../bench/lib/inspector.js";

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

/** A Node process that keeps 32 MB reachable until it reads "drop" on stdin, then lets it go. */
async function startChild(): Promise<string> {
  const script = `
    let keep = Array.from({ length: 32 }, () => new Array(1 << 17).fill(1.5));
    process.stdin.on("data", () => { keep = null; process.stdout.write("dropped\\n"); });
    setInterval(() => {}, 1000);
  `;
  const c = spawn(process.execPath, ["--inspect=127.0.0.1:0", "-e", script], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  child = c;
  let err = "";
  return await new Promise<string>((resolve, reject) => {
    c.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
      const url = inspectorUrl(err);
      if (url) resolve(url);
    });
    c.on("exit", (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
}

describe("bench inspector client", () => {
  it("finds the inspector url in a node process's output", () => {
    expect(
      inspectorUrl("Debugger listening on ws://127.0.0.1:41234/0f3c-11\nFor help, see: https://nodejs.org"),
    ).toBe("ws://127.0.0.1:41234/0f3c-11");
    expect(inspectorUrl("listening on /run/servin.sock")).toBeUndefined();
  });

  it("forces a full GC and reads the heap: what was dropped is gone", async () => {
    const url = await startChild();
    const client = await InspectorClient.connect(url);
    try {
      const held = await heapAfterGc(client);
      expect(held).toBeGreaterThan(30 * 2 ** 20);
      const dropped = new Promise<void>((r) => child?.stdout?.once("data", () => r()));
      child?.stdin?.write("drop\n");
      await dropped;
      const after = await heapAfterGc(client);
      expect(held - after).toBeGreaterThan(28 * 2 ** 20);
    } finally {
      client.close();
    }
  });

  it("answers a CDP error as a rejection naming it", async () => {
    const client = await InspectorClient.connect(await startChild());
    try {
      await expect(client.send("No.suchMethod")).rejects.toThrow(/inspector: .*No.suchMethod|wasn't found/);
    } finally {
      client.close();
    }
  });
});
