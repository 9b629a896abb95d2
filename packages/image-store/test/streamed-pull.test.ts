/** Layers unpack while they download: what a digest failure or a cancel mid-stream leaves (nothing). */
import { join } from "node:path";
import type { PullProgress } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { registryToolsAvailable } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";
import { blobFetches, type Fixture, listDir, setupRegistry } from "./_fixture.js";

describe.skipIf(!registryToolsAvailable())("streamed layer pulls", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await setupRegistry();
  });
  afterAll(async () => {
    fx?.reg.setFault(undefined);
    await fx?.cleanup();
  });

  it("unpacks each layer once, while it downloads, fetching each blob once", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({ backend: await createDiskImageBackend({ root }) });
    const ref = `${fx.reg.host}/test/layers:v1`;
    fx.reg.requestLog.length = 0;
    const seen: PullProgress[] = [];
    await s.pullImage({ image: { image: ref } }, { onProgress: (e) => seen.push(e) });
    for (const l of fx.imgs.layers.layers) {
      const statuses = seen.filter((e) => e.digest === l.digest).map((e) => e.status);
      // "unpacking" comes before the download is done: the two overlap.
      expect(statuses.indexOf("unpacking"), l.digest).toBeGreaterThanOrEqual(0);
      expect(statuses.indexOf("unpacking")).toBeLessThan(statuses.indexOf("done"));
      expect(statuses.at(-1)).toBe("unpacked");
    }
    for (const [digest, n] of blobFetches(fx.reg)) expect(n, digest).toBe(1);
    expect(await listDir(join(root, "images/blobs/sha256"))).toEqual(
      expect.arrayContaining(fx.imgs.layers.layers.map((l) => l.digest.slice(7))),
    );
    expect((await s.resolveImage(ref)).layers).toHaveLength(3);
    expect(await listDir(join(root, "images/tmp"))).toEqual([]);
    await s.close();
  });

  it("a blob whose digest fails after its layer unpacked leaves no snapshot and no blob", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, registries: { retries: 0 } }),
    });
    const layer = fx.imgs.base.layers[0]!;
    const diffId = (fx.imgs.base.config.rootfs as { diff_ids: string[] }).diff_ids[0]!;
    // Byte 9 of a gzip stream is the header's OS byte: the layer still decompresses to the very
    // same tar (its diffID checks out), only the blob's digest is wrong.
    fx.reg.setFault((r) => (r.path.endsWith(layer.digest) ? { corruptAt: 9 } : undefined));
    const seen: PullProgress[] = [];
    try {
      const err = await s
        .pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } }, { onProgress: (e) => seen.push(e) })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "InvalidArgument" });
      expect((err as Error).message).toMatch(/content digest is sha256:/);
    } finally {
      fx.reg.setFault(undefined);
    }
    expect(seen.some((e) => e.digest === layer.digest && e.status === "unpacking")).toBe(true);
    expect(await listDir(join(root, "images/blobs/sha256"))).not.toContain(layer.digest.slice(7));
    expect(await listDir(join(root, "images/snapshots"))).not.toContain(diffId.slice(7));
    expect(await listDir(join(root, "images/tmp"))).toEqual([]);
    expect(await listDir(join(root, "images/ingest"))).toEqual([]);
    expect((await s.listImages({})).images).toEqual([]);
    // The registry honest again: the same service pulls it.
    expect((await s.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } })).imageRef).toBe(
      fx.imgs.base.configDigest,
    );
    expect(await listDir(join(root, "images/snapshots"))).toContain(diffId.slice(7));
    await s.close();
  });

  it("a cancel while a layer unpacks mid-download leaves neither its snapshot nor its blob", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, registries: { timeoutMs: 30_000 } }),
    });
    const ref = `${fx.reg.host}/test/layers:v1`;
    const big = fx.imgs.layers.layers[0]!;
    const diffId = (fx.imgs.layers.config.rootfs as { diff_ids: string[] }).diff_ids[0]!;
    // The registry sends part of the layer, then holds the connection open.
    fx.reg.setFault((r) => (r.path.endsWith(big.digest) ? { stallAfterBytes: 300 * 1024 } : undefined));
    try {
      const ac = new AbortController();
      let started!: () => void;
      const unpacking = new Promise<void>((r) => {
        started = r;
      });
      const pull = s
        .pullImage(
          { image: { image: ref } },
          {
            signal: ac.signal,
            onProgress: (e) => {
              if (e.digest === big.digest && e.status === "unpacking") started();
            },
          },
        )
        .catch((e: unknown) => e);
      await unpacking;
      // The half-built snapshot is there, under tmp/, with what the first 300 KiB held.
      const building = await listDir(join(root, "images/tmp"));
      expect(building.filter((d) => d.startsWith(`${diffId.slice(7)}.`))).toHaveLength(1);
      ac.abort(new CriError("DeadlineExceeded", "call deadline exceeded"));
      expect(await pull).toMatchObject({ code: "DeadlineExceeded" });
    } finally {
      fx.reg.setFault(undefined);
    }
    // The caller is answered at once; the cancelled pull unwinds behind it, removing the half-built
    // snapshots (this layer's and any other still in flight) and the partial download.
    await vi.waitFor(
      async () => {
        expect(await listDir(join(root, "images/tmp"))).toEqual([]);
        expect(await listDir(join(root, "images/ingest"))).toEqual([]);
      },
      { timeout: 30_000 },
    );
    expect(await listDir(join(root, "images/snapshots"))).not.toContain(diffId.slice(7));
    expect(await listDir(join(root, "images/blobs/sha256"))).not.toContain(big.digest.slice(7));
    expect((await s.listImages({})).images).toEqual([]);
    await s.close();
  });
});
