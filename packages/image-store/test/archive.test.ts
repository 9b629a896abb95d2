import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildTestImages, registryToolsAvailable, type TestImages } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";

const run = promisify(execFile);

describe.skipIf(!registryToolsAvailable())("import and export", () => {
  let tmp: string;
  let imgs: TestImages;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "servin-archive-test-"));
    imgs = await buildTestImages(join(tmp, "layout"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("imports every image of an OCI layout directory, naming tags with a base name", async () => {
    const s = await createImageService({ backend: await createDiskImageBackend({ root: join(tmp, "r1") }) });
    const out = await s.importImage(imgs.dir, { name: "example.com/test/imported" });
    expect(out.map((i) => i.repoTags[0]).sort()).toEqual([
      "example.com/test/imported:base",
      "example.com/test/imported:layers",
      "example.com/test/imported:multi",
    ]);
    const layers = await s.resolveImage("example.com/test/imported:layers");
    expect(layers.id).toBe(imgs.layers.configDigest);
    expect(layers.layers).toHaveLength(3);
    expect((await s.resolveImage("example.com/test/imported:multi")).id).toBe(
      imgs.multi.platforms!["linux/amd64"]!.configDigest,
    );
    await s.close();
  });

  it("round-trips an export (tar and dir) into a fresh store, which skopeo also reads", async () => {
    const s = await createImageService({ backend: await createDiskImageBackend({ root: join(tmp, "r2") }) });
    await s.importImage(imgs.dir, { name: "example.com/test/rt" });
    const tar = join(tmp, "export.tar");
    await s.exportImage("example.com/test/rt:layers", tar);
    await s.exportImage("example.com/test/rt:layers", join(tmp, "export-dir"), { format: "dir" });
    const index = JSON.parse(await readFile(join(tmp, "export-dir/index.json"), "utf8"));
    expect(index.manifests[0].annotations["io.containerd.image.name"]).toBe("example.com/test/rt:layers");
    const docker = JSON.parse(await readFile(join(tmp, "export-dir/manifest.json"), "utf8"));
    expect(docker[0].RepoTags).toEqual(["example.com/test/rt:layers"]);

    const fresh = await createImageService({
      backend: await createDiskImageBackend({ root: join(tmp, "r3") }),
    });
    const [img] = await fresh.importImage(tar);
    expect(img!.id).toBe(imgs.layers.configDigest);
    expect(img!.repoTags).toEqual(["example.com/test/rt:layers"]);
    expect((await fresh.resolveImage(img!.id)).layers).toHaveLength(3);
    const fromDir = await createImageService({
      backend: await createDiskImageBackend({ root: join(tmp, "r4") }),
    });
    expect((await fromDir.importImage(join(tmp, "export-dir")))[0]!.id).toBe(imgs.layers.configDigest);

    // Other tools read it both as an OCI archive and as a docker archive.
    await run("skopeo", ["inspect", `oci-archive:${tar}`]);
    await run("skopeo", ["inspect", `docker-archive:${tar}`]);
    await expect(s.exportImage("example.com/test/rt:nope", join(tmp, "x.tar"))).rejects.toMatchObject({
      code: "NotFound",
    });
    await Promise.all([s.close(), fresh.close(), fromDir.close()]);
  });

  it("imports a docker-save archive", async () => {
    const archive = join(tmp, "docker.tar");
    // skopeo cannot put zstd layers in a docker archive: use the (gzip) base image.
    await run("skopeo", [
      "copy",
      "-q",
      `oci:${imgs.dir}:base`,
      `docker-archive:${archive}:example.com/dock/base:v1`,
    ]);
    const s = await createImageService({ backend: await createDiskImageBackend({ root: join(tmp, "r5") }) });
    const [img] = await s.importImage(archive);
    expect(img!.repoTags).toEqual(["example.com/dock/base:v1"]);
    expect(img!.id).toBe(imgs.base.configDigest);
    const rt = await s.resolveImage("example.com/dock/base:v1");
    expect(rt.layers).toHaveLength(1);
    expect(rt.config.user).toBe("1000:1000");
    await s.close();
  });

  it("rejects what is neither layout nor archive", async () => {
    const s = await createImageService({ backend: await createDiskImageBackend({ root: join(tmp, "r6") }) });
    await expect(s.importImage(join(tmp, "missing"))).rejects.toMatchObject({ code: "NotFound" });
    await expect(s.importImage(join(imgs.dir, "oci-layout"))).rejects.toMatchObject({
      code: "InvalidArgument",
    });
    await s.close();
  });
});
