import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createImageService } from "../service.js";
import { createDiskImageBackend } from "./disk.js";

let tmp: string | undefined;
afterEach(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

describe("createDiskImageBackend", () => {
  it("needs a root: InvalidArgument naming it", async () => {
    await expect(createDiskImageBackend({ root: "" })).rejects.toMatchObject({
      code: "InvalidArgument",
      message: "root: the disk image backend needs a root directory",
    });
  });

  it("creates <root>/images private, persists images.json there, and drops a crashed write's temp file", async () => {
    tmp = await mkdtemp(join(tmpdir(), "servin-disk-backend-"));
    const backend = await createDiskImageBackend({ root: tmp });
    expect(backend.kind).toBe("disk");
    const dir = join(tmp, "images");
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const s = await createImageService({ backend });
    expect((await s.listImages({})).images).toEqual([]);
    await s.close();

    await backend.persist([]);
    // A write a crash interrupted between create and rename (atomicWriteFile's temp name).
    await writeFile(join(dir, "images.json.tmp-4242-abcdef"), "{");
    const again = await createImageService({ backend: await createDiskImageBackend({ root: tmp }) });
    expect((await readdir(dir)).filter((n) => n.startsWith("images.json"))).toEqual(["images.json"]);
    const fs = await again.imageFsInfo({});
    expect(fs.imageFilesystems[0]?.fsId?.mountpoint).toBe(dir);
    expect(fs.imageFilesystems[0]?.inodesUsed?.value).toBeGreaterThan(0);
    await again.close();
  });
});
