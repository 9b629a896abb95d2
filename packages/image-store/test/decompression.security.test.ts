/**
 * Decompression bombs through a real registry: gzip and zstd layers that
 * expand past their cap (relative to their compressed size, or the floor),
 * an image whose layers together pass the per-image cap, and the reported
 * case with the default limits: a 2 MB gzip layer that expands to 2 GiB.
 */
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import {
  type BuiltImage,
  buildTar,
  hasZstd,
  MEDIA,
  OciLayout,
  pushLayout,
  registryToolsAvailable,
} from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";
import { type Fixture, listDir, setupRegistry } from "./_fixture.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const FAKE_DIFF_ID = `sha256:${"0".repeat(64)}`;

/** A tar header for one regular file of `size` bytes (the body is supplied separately). */
function fileHeader(name: string, size: number): Buffer {
  const h = Buffer.from(buildTar([{ path: name, type: "file", data: "" }]).subarray(0, 512));
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, 12, "latin1");
  h.write("        ", 148, 8, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

describe.skipIf(!registryToolsAvailable())("decompression limits (gzip and zstd bombs)", () => {
  let fx: Fixture;
  const imgs: Record<string, BuiltImage> = {};
  let zeros64: Buffer;
  beforeAll(async () => {
    fx = await setupRegistry();
    const dir = join(fx.tmp, "bombs");
    const layout = await new OciLayout(dir).init();
    zeros64 = Buffer.alloc(64 * MiB);
    imgs["gzip-bomb"] = await layout.image("gzip-bomb", [
      await layout.layer({ entries: [{ path: "zeros", type: "file", data: zeros64 }], compression: "gzip" }),
    ]);
    if (hasZstd())
      imgs["zstd-bomb"] = await layout.image("zstd-bomb", [
        await layout.layer({
          entries: [{ path: "zeros", type: "file", data: zeros64 }],
          compression: "zstd",
        }),
      ]);
    // Three honest layers of 4 MiB each: each under any layer cap, 12 MiB together.
    const four = Buffer.alloc(4 * MiB, 1);
    imgs.wide = await layout.image(
      "wide",
      await Promise.all(
        ["a", "b", "c"].map((n) => layout.layer({ entries: [{ path: n, type: "file", data: four }] })),
      ),
    );
    // The reported case: one 2 GiB file of zeros as 32 concatenated gzip members of 64 MiB (~2 MB in all).
    const member = gzipSync(zeros64, { level: 9 });
    const blob = Buffer.concat([gzipSync(fileHeader("big", 2 * GiB)), ...Array(32).fill(member)]);
    const d = await layout.blob(blob, MEDIA.gzip);
    imgs["gzip-2g"] = await layout.image(
      "gzip-2g",
      [{ ...d, diffId: FAKE_DIFF_ID }],
      {},
      {
        diffIds: [FAKE_DIFF_ID],
      },
    );
    for (const tag of Object.keys(imgs)) await pushLayout(dir, tag, `${fx.reg.directHost}/bombs/${tag}:v1`);
  }, 120_000);
  afterAll(async () => {
    await fx?.cleanup();
  });

  const expectNothingLeft = async (root: string) => {
    expect(await listDir(join(root, "images/snapshots"))).toEqual([]);
    expect(await listDir(join(root, "images/tmp"))).toEqual([]);
    expect(await listDir(join(root, "images/blobs/sha256"))).toEqual([]);
  };

  it("stops a gzip layer at 100× its compressed size, naming the layer and the limit", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, limits: { layerExpansionFloor: MiB } }),
    });
    const layer = imgs["gzip-bomb"]!.layers[0]!;
    const err = await s.pullImage({ image: { image: `${fx.reg.host}/bombs/gzip-bomb:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "InvalidArgument" });
    expect(err.message).toContain(`layer ${layer.digest} of "${fx.reg.host}/bombs/gzip-bomb:v1"`);
    expect(err.message).toContain(
      `exceeds the ${100 * layer.size}-byte cap (100× its ${layer.size} compressed bytes)`,
    );
    await expectNothingLeft(root);
    await s.close();
  });

  it.skipIf(!hasZstd())("stops a zstd layer at the expansion floor", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, limits: { layerExpansionFloor: 2 * MiB } }),
    });
    const layer = imgs["zstd-bomb"]!.layers[0]!;
    expect(layer.size * 100).toBeLessThan(2 * MiB); // zstd packs 64 MiB of zeros far below 20 KiB
    const err = await s.pullImage({ image: { image: `${fx.reg.host}/bombs/zstd-bomb:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "InvalidArgument" });
    expect(err.message).toContain(`layer ${layer.digest}`);
    expect(err.message).toContain(`exceeds the ${2 * MiB}-byte cap (the expansion floor`);
    await expectNothingLeft(root);
    await s.close();
  });

  it("caps what all the layers of one image expand to together", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, limits: { maxImageBytes: 10 * MiB } }),
    });
    const err = await s.pullImage({ image: { image: `${fx.reg.host}/bombs/wide:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "InvalidArgument" });
    expect(err.message).toMatch(/layer sha256:[0-9a-f]{64} of ".*bombs\/wide:v1"/);
    expect(err.message).toContain(`expand past the ${10 * MiB}-byte cap on a whole image`);
    await expectNothingLeft(root);
    // Under a cap that fits, the same image pulls.
    const ok = await createImageService({
      backend: await createDiskImageBackend({
        root: await fx.newRoot(),
        limits: { maxImageBytes: 13 * MiB },
      }),
    });
    expect((await ok.pullImage({ image: { image: `${fx.reg.host}/bombs/wide:v1` } })).imageRef).toBe(
      imgs.wide!.configDigest,
    );
    await s.close();
    await ok.close();
  });

  it("rejects the reported 2 MB → 2 GiB gzip layer with the default limits", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({ backend: await createDiskImageBackend({ root }) });
    const layer = imgs["gzip-2g"]!.layers[0]!;
    expect(layer.size).toBeLessThan(4 * MiB);
    const err = await s.pullImage({ image: { image: `${fx.reg.host}/bombs/gzip-2g:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "InvalidArgument" });
    expect(err.message).toContain(`layer ${layer.digest}`);
    // 100× 2 MB is below the 1 GiB floor: the floor is the cap.
    expect(err.message).toContain(`exceeds the ${GiB}-byte cap (the expansion floor`);
    await expectNothingLeft(root);
    await s.close();
  }, 120_000);
});
