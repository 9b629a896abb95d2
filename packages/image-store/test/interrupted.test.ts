import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { registryToolsAvailable } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";
import { type Fixture, listDir, setupRegistry } from "./_fixture.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));
const child = fileURLToPath(new URL("./fixtures/pull-child.ts", import.meta.url));

describe.skipIf(!registryToolsAvailable())("a pull killed midway", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await setupRegistry();
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it("leaves no blob visible and a retry completes cleanly", async () => {
    const root = await fx.newRoot();
    const ref = `${fx.reg.host}/test/layers:v1`;
    const big = fx.imgs.layers.layers[0]!; // the busybox layer, ~1 MB compressed
    // The registry sends 300 KiB of the big layer, then holds the connection open.
    fx.reg.setFault((r) => (r.path.endsWith(big.digest) ? { stallAfterBytes: 300 * 1024 } : undefined));
    const proc = spawn(process.execPath, ["--conditions=source", "--import", "tsx", child, root, ref], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      // Wait until the child has part of the big layer on disk, then kill it without warning.
      for await (const line of createInterface({ input: proc.stdout! })) {
        if (line === "done") throw new Error("the pull finished although the registry stalled");
        const e = JSON.parse(line);
        if (e.digest === big.digest && e.status === "downloading" && e.current > 0) break;
      }
      const partial = await listDir(join(root, "images/ingest"));
      expect(partial.some((n) => n.startsWith(big.digest.slice(7)))).toBe(true);
      proc.kill("SIGKILL");
      await exited;
    } finally {
      proc.kill("SIGKILL");
      fx.reg.setFault(undefined);
    }
    // Nothing half-written is visible under a digest, and no image was recorded.
    expect(await listDir(join(root, "images/blobs/sha256"))).not.toContain(big.digest.slice(7));

    // A new service on the same root cleans the leftovers and the retry completes.
    const s = await createImageService({ backend: await createDiskImageBackend({ root }) });
    expect(await listDir(join(root, "images/ingest"))).toEqual([]);
    expect((await s.listImages({})).images).toEqual([]);
    expect((await s.pullImage({ image: { image: ref } })).imageRef).toBe(fx.imgs.layers.configDigest);
    expect((await s.resolveImage(ref)).layers).toHaveLength(3);
    expect(await listDir(join(root, "images/ingest"))).toEqual([]);
    expect(await listDir(join(root, "images/tmp"))).toEqual([]);
    await s.close();
  });

  it("stops on an aborted signal and on a stalled registry, leaving no blob visible", async () => {
    const root = await fx.newRoot();
    const ref = `${fx.reg.host}/test/layers:v1`;
    const big = fx.imgs.layers.layers[0]!;
    fx.reg.setFault((r) => (r.path.endsWith(big.digest) ? { stallAfterBytes: 64 * 1024 } : undefined));
    try {
      const s = await createImageService({
        backend: await createDiskImageBackend({ root, registries: { timeoutMs: 1500, retries: 1 } }),
      });
      const ac = new AbortController();
      const pull = s.pullImage(
        { image: { image: ref } },
        {
          signal: ac.signal,
          onProgress: (e) => {
            if (e.digest === big.digest && e.status === "waiting") setTimeout(() => ac.abort(), 300);
          },
        },
      );
      await expect(pull).rejects.toMatchObject({ code: "Aborted" });
      // Without a signal, the stall hits the inactivity timeout (then one retry).
      const err = await s.pullImage({ image: { image: ref } }).catch((e) => e);
      expect(err).toMatchObject({ code: "Unavailable" });
      expect(err.message).toMatch(/no data from 127.0.0.1:\d+ for 1500 ms/);
      expect(await listDir(join(root, "images/blobs/sha256"))).not.toContain(big.digest.slice(7));
      expect(await listDir(join(root, "images/ingest"))).toEqual([]);
      await s.close();
    } finally {
      fx.reg.setFault(undefined);
    }
  });
});
