import { existsSync } from "node:fs";
import { join } from "node:path";
import { type HostileCase, registryToolsAvailable } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";
import { type Fixture, listDir, setupRegistry } from "./_fixture.js";

const CASES: Array<[HostileCase, RegExp]> = [
  ["dotdot", /"\.\.\/escape": "\.\." is not allowed/],
  ["absolute", /"\/abs-escape": absolute paths are not allowed/],
  ["symlink-escape", /path goes through symlink "evil"/],
  ["symlink-parent-escape", /path goes through symlink "up"/],
  ["hardlink-escape", /hard link "hl" ->.*"\.\." is not allowed/],
  ["hardlink-absolute", /hard link "hl" ->.*absolute paths are not allowed/],
  ["hardlink-missing", /does not exist in this layer|is not in this layer/],
  ["bomb", /exceeds the 16777216-byte cap/],
  ["diffid-mismatch", /does not match the config's diff_id/],
  ["truncated", /unexpected end of data|truncated/],
  ["bad-checksum", /checksum mismatch/],
];

describe.skipIf(!registryToolsAvailable())("hostile images", () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await setupRegistry({ hostile: true });
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it.each(CASES)("rejects %s with a clear error and leaves nothing behind", async (name, message) => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, limits: { maxLayerBytes: 16 * 1024 * 1024 } }),
    });
    const ref = `${fx.reg.host}/hostile/${name}:v1`;
    const err = await s.pullImage({ image: { image: ref } }).catch((e) => e);
    expect(err).toMatchObject({ code: "InvalidArgument" });
    expect(err.message).toMatch(message);
    expect(err.message).toContain(ref);
    // Nothing visible: no image, no snapshot, no half-built snapshot, nothing next to them.
    expect((await s.listImages({})).images).toEqual([]);
    expect(await listDir(join(root, "images/snapshots"))).toEqual([]);
    expect(await listDir(join(root, "images/tmp"))).toEqual([]);
    expect(await listDir(join(root, "images/blobs/sha256"))).toEqual([]);
    expect(existsSync("/tmp/servin-pwned")).toBe(false);
    expect(existsSync("/abs-escape")).toBe(false);
    expect(existsSync(join(root, "images/escape"))).toBe(false);
    await s.close();
  });

  it("never creates a whiteout through a directory a later entry replaced with a symlink", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({ backend: await createDiskImageBackend({ root }) });
    const ref = `${fx.reg.host}/hostile/whiteout-then-symlink:v1`;
    await s.pullImage({ image: { image: ref } });
    const [layer] = (await s.resolveImage(ref)).layers;
    expect(existsSync("/tmp/servin-wh-escape")).toBe(false);
    const { readlink } = await import("node:fs/promises");
    expect(await readlink(join(layer!, "a"))).toBe("/tmp");
    expect(await readlink(join(layer!, "b"))).toBe("/tmp");
    await s.close();
  });

  it("rejects blobs whose content does not match their digest, keeping none of it", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, registries: { retries: 1 } }),
    });
    const layer = fx.imgs.base.layers[0]!.digest;
    fx.reg.setFault((r) => (r.path.endsWith(layer) ? { corrupt: true } : undefined));
    try {
      const err = await s.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } }).catch((e) => e);
      expect(err).toMatchObject({ code: "InvalidArgument" });
      expect(err.message).toMatch(/content digest is sha256:/);
    } finally {
      fx.reg.setFault(undefined);
    }
    expect(await listDir(join(root, "images/blobs/sha256"))).not.toContain(layer.slice(7));
    expect(await listDir(join(root, "images/ingest"))).toEqual([]);
    // With the registry honest again, the same service pulls fine.
    expect((await s.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } })).imageRef).toBe(
      fx.imgs.base.configDigest,
    );
    await s.close();
  });

  it("caps manifests and configs", async () => {
    const small = await createImageService({
      backend: await createDiskImageBackend({ root: await fx.newRoot(), limits: { maxManifestBytes: 100 } }),
    });
    await expect(small.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } })).rejects.toThrow(
      /over the 100-byte cap/,
    );
    const cfg = await createImageService({
      backend: await createDiskImageBackend({ root: await fx.newRoot(), limits: { maxConfigBytes: 64 } }),
    });
    await expect(cfg.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } })).rejects.toThrow(
      /over the 64-byte cap/,
    );
    await small.close();
    await cfg.close();
  });
});
