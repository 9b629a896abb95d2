/** Import from and export to streams (the HTTP API's request and response bodies): no host path involved. */
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buildTestImages, registryToolsAvailable, type TestImages } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService, createMemoryImageBackend } from "../src/index.js";

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe.skipIf(!registryToolsAvailable())("stream import and export", () => {
  let tmp: string;
  let imgs: TestImages;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), "servin-archive-stream-"));
    imgs = await buildTestImages(join(tmp, "layout"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("streams the same tar the file export writes, and a fresh store imports it from a stream", async () => {
    const s = await createImageService({ backend: await createDiskImageBackend({ root: join(tmp, "r1") }) });
    await s.importImage(imgs.dir, { name: "example.com/test/st" });
    const file = join(tmp, "export.tar");
    await s.exportImage("example.com/test/st:layers", file);
    const streamed = await collect(await s.exportImageStream("example.com/test/st:layers"));
    expect(streamed.equals(await readFile(file))).toBe(true);

    const fresh = await createImageService({
      backend: await createDiskImageBackend({ root: join(tmp, "r2") }),
    });
    const [img] = await fresh.importImageStream(createReadStream(file, { highWaterMark: 7000 }));
    expect(img!.id).toBe(imgs.layers.configDigest);
    expect(img!.repoTags).toEqual(["example.com/test/st:layers"]);
    expect((await fresh.resolveImage(img!.id)).layers).toHaveLength(3);
    await Promise.all([s.close(), fresh.close()]);
  });

  it("answers NotFound before any byte for an unknown image, InvalidArgument for a stream that is no archive", async () => {
    const s = await createImageService({ backend: await createDiskImageBackend({ root: join(tmp, "r3") }) });
    await expect(s.exportImageStream("example.com/test/nope:v1")).rejects.toMatchObject({ code: "NotFound" });
    const secret = "root:$6$do-not-quote-me:19000:0:99999:7:::\n";
    const err = await s.importImageStream(Readable.from([Buffer.from(secret)])).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "InvalidArgument" });
    expect((err as Error).message).not.toContain("do-not-quote-me");
    await s.close();
  });

  it("is unimplemented on the memory backend", async () => {
    const s = await createImageService({ backend: createMemoryImageBackend() });
    await expect(s.importImageStream(Readable.from([Buffer.alloc(1024)]))).rejects.toMatchObject({
      code: "Unimplemented",
    });
    await s.close();
  });
});
