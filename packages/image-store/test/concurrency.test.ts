/** Concurrency against a real registry: shared pulls and cancellation, GC racing pulls, tags moving off images in use. */
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ImageId, PullProgress } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { registryToolsAvailable } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService, type ServinImageService } from "../src/index.js";
import { type Fixture, listDir, setupRegistry } from "./_fixture.js";

const run = promisify(execFile);

/** A promise with its resolve exposed (Node 20 has no Promise.withResolvers). */
function signalled(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe.skipIf(!registryToolsAvailable())("concurrent pulls, GC and tag moves", () => {
  let fx: Fixture;
  const services: ServinImageService[] = [];
  beforeAll(async () => {
    fx = await setupRegistry();
  });
  afterAll(async () => {
    fx?.reg.setFault(undefined);
    await Promise.all(services.map((s) => s.close()));
    await fx?.cleanup();
  });

  it("keeps a shared pull going when the caller that started it goes away", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, registries: { timeoutMs: 1500, retries: 2 } }),
    });
    services.push(s);
    const ref = `${fx.reg.host}/test/layers:v1`;
    const big = fx.imgs.layers.layers[0]!;
    // The registry sends part of the big layer, then holds the connection open.
    fx.reg.setFault((r) => (r.path.endsWith(big.digest) ? { stallAfterBytes: 300 * 1024 } : undefined));
    try {
      const first = new AbortController();
      const downloading = signalled();
      // The first caller (say, a gRPC call) starts the pull; its deadline fires midway.
      const a = s.pullImage(
        { image: { image: ref } },
        {
          signal: first.signal,
          onProgress: (e) => {
            if (e.digest === big.digest && e.status === "downloading" && e.current > 0) downloading.resolve();
          },
        },
      );
      // A second caller without progress and a third with its own progress join the same pull.
      const b = s.pullImage({ image: { image: ref } });
      const seenC: PullProgress[] = [];
      const c = s.pullImage(
        { image: { image: ref } },
        { signal: new AbortController().signal, onProgress: (e) => seenC.push(e) },
      );
      const aFailed = a.catch((e: unknown) => e);
      await downloading.promise;
      first.abort(new CriError("DeadlineExceeded", "call deadline exceeded"));
      // The stalled transfer times out and is retried against a healthy registry.
      fx.reg.setFault(undefined);
      expect((await b).imageRef).toBe(fx.imgs.layers.configDigest);
      expect((await c).imageRef).toBe(fx.imgs.layers.configDigest);
      // The first caller got its own deadline error (the gRPC layer's reason) at once.
      expect(await aFailed).toMatchObject({ code: "DeadlineExceeded" });
      // The joiner saw the pull's progress, down to every layer unpacked.
      for (const l of fx.imgs.layers.layers)
        expect(seenC.some((e) => e.digest === l.digest && e.status === "unpacked")).toBe(true);
      expect((await s.resolveImage(ref)).layers).toHaveLength(3);
    } finally {
      fx.reg.setFault(undefined);
    }
  });

  it("cancels a pull when its last waiter goes away, and a new pull starts afresh", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root, registries: { timeoutMs: 1500 } }),
    });
    services.push(s);
    const ref = `${fx.reg.host}/test/layers:v1`;
    const big = fx.imgs.layers.layers[0]!;
    fx.reg.setFault((r) => (r.path.endsWith(big.digest) ? { stallAfterBytes: 300 * 1024 } : undefined));
    try {
      const ctrls = [new AbortController(), new AbortController()];
      const downloading = signalled();
      const pulls = ctrls.map((ac) =>
        s.pullImage(
          { image: { image: ref } },
          {
            signal: ac.signal,
            onProgress: (e) => {
              if (e.digest === big.digest && e.status === "downloading" && e.current > 0)
                downloading.resolve();
            },
          },
        ),
      );
      await downloading.promise;
      for (const ac of ctrls) ac.abort();
      for (const p of pulls) await expect(p).rejects.toMatchObject({ code: "Aborted" });
      fx.reg.setFault(undefined);
      expect((await s.pullImage({ image: { image: ref } })).imageRef).toBe(fx.imgs.layers.configDigest);
      expect(await listDir(join(root, "images/ingest"))).toEqual([]);
    } finally {
      fx.reg.setFault(undefined);
    }
  });

  it("never collects what a pull stored before the pull has recorded its image", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({ backend: await createDiskImageBackend({ root }) });
    services.push(s);
    const base = `${fx.reg.host}/test/base:v1`;
    const layers = `${fx.reg.host}/test/layers:v1`;
    await s.pullImage({ image: { image: base } });
    let unpacked = 0;
    let removal: Promise<unknown> | undefined;
    // Right after the last layer is unpacked (before the pull records the image),
    // removing another image runs a GC.
    const pulled = await s.pullImage(
      { image: { image: layers } },
      {
        onProgress: (e) => {
          if (e.status === "unpacked" && ++unpacked === fx.imgs.layers.layers.length)
            removal = s.removeImage({ image: { image: base } });
        },
      },
    );
    await removal;
    expect(pulled.imageRef).toBe(fx.imgs.layers.configDigest);
    expect((await s.listImages({})).images.map((i) => i.id)).toEqual([fx.imgs.layers.configDigest]);
    const rt = await s.resolveImage(layers);
    for (const p of rt.layers) expect((await stat(p)).isDirectory(), p).toBe(true);
    const blobs = await listDir(join(root, "images/blobs/sha256"));
    for (const l of fx.imgs.layers.layers) expect(blobs).toContain(l.digest.slice(7));
    expect(blobs).toContain(fx.imgs.layers.configDigest.slice(7));
  });

  it("keeps an image in use, untagged, when an import moves its tag; drops it when unused", async () => {
    const inUse = new Set<ImageId>();
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root }),
      isImageInUse: (id) => inUse.has(id),
    });
    services.push(s);
    const oldTar = join(fx.tmp, "old.tar");
    const newTar = join(fx.tmp, "new.tar");
    await run("skopeo", ["copy", "-q", `oci:${fx.imgs.dir}:layers`, `oci-archive:${oldTar}:v1`]);
    await run("skopeo", ["copy", "-q", `oci:${fx.imgs.dir}:base`, `oci-archive:${newTar}:v1`]);
    const tag = "example.com/app:v1";
    const [old] = await s.importImage(oldTar, { name: "example.com/app" });
    expect(old!.repoTags).toEqual([tag]);
    // A running container uses the old image's snapshots as its overlay lowers.
    inUse.add(old!.id);
    const lowers = (await s.resolveImage(old!.id)).layers;
    const [fresh] = await s.importImage(newTar, { name: "example.com/app" });
    expect(fresh!.repoTags).toEqual([tag]);
    expect((await s.resolveImage(tag)).id).toBe(fresh!.id);
    const kept = (await s.imageStatus({ image: { image: old!.id } })).image;
    expect(kept?.repoTags).toEqual([]);
    for (const p of lowers) expect((await stat(p)).isDirectory(), p).toBe(true);
    expect(await listDir(join(root, "images/blobs/sha256"))).toContain(old!.id.slice(7));

    // RemoveImage by ID refuses while in use, then deletes and collects it.
    await expect(s.removeImage({ image: { image: old!.id } })).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
    inUse.clear();
    await s.removeImage({ image: { image: old!.id } });
    expect((await s.listImages({})).images.map((i) => i.id)).toEqual([fresh!.id]);
    expect(await listDir(join(root, "images/snapshots"))).toHaveLength(2); // base layer + sidecar

    // Moving the tag off an image nobody uses drops it (containerd: a nameless image is gone).
    const [again] = await s.importImage(oldTar, { name: "example.com/app" });
    expect((await s.listImages({})).images.map((i) => i.id)).toEqual([again!.id]);
  });
});
