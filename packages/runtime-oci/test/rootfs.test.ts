/** Container rootfs on the host: overlayfs (lowerdir order) and the copy fallback with whiteouts. */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isMountPoint, overlayMountPlan, removeTree } from "../src/_mounts.js";
import { makeBusyboxImage } from "./fixtures/busybox-image.js";
import { canRunReal } from "./fixtures/harness.js";
import { makeRootfs } from "./fixtures/rootfs.js";

const real = canRunReal();
const quiet = { warn: () => undefined };

describe.skipIf(!real.ok)("container rootfs (real mounts)", () => {
  const dir = mkdtempSync(join(tmpdir(), "servin-oci-rootfs-"));
  const image = makeBusyboxImage(join(dir, "image"));
  afterAll(async () => {
    await removeTree(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ["overlay", "copy"] as const) {
    it(`${mode}: upper layers win, whiteouts delete, writes stay in the container's layer`, async () => {
      const top = join(dir, `whiteout-${mode}`);
      mkdirSync(join(top, "www"), { recursive: true });
      // An overlay whiteout (0/0 character device) deleting the base layer's index.html.
      execFileSync("mknod", [join(top, "www", "index.html"), "c", "0", "0"]);
      const target = join(dir, `rootfs-${mode}`);
      const got = await makeRootfs(
        dir,
        {
          layers: [...image.layers, top],
          upper: join(dir, `upper-${mode}`),
          work: join(dir, `work-${mode}`),
          target,
          copyDir: join(dir, `copy-${mode}`),
          id: `whiteout-${mode}`,
          logger: quiet,
        },
        mode === "copy",
      );
      expect(got).toBe(mode);
      expect(await isMountPoint(target)).toBe(true);
      expect(readFileSync(join(target, "etc", "layer"), "utf8")).toBe("top\n");
      expect(existsSync(join(target, "www", "index.html"))).toBe(false);
      expect(existsSync(join(target, "bin", "busybox"))).toBe(true);
      execFileSync("sh", ["-c", `echo new > ${join(target, "tmp", "new")}`]);
      expect(existsSync(join(image.layers[0]!, "tmp", "new"))).toBe(false);
      await removeTree(target);
      expect(await isMountPoint(target)).toBe(false);
    });
  }

  it("copy: an opaque directory hides everything lower layers have inside it; types replace types", async () => {
    // A middle layer with content the top layer must hide or replace.
    const mid = join(dir, "opaque-mid");
    mkdirSync(join(mid, "www", "sub"), { recursive: true });
    writeFileSync(join(mid, "www", "sub", "deep"), "lower\n");
    mkdirSync(join(mid, "data"), { recursive: true });
    writeFileSync(join(mid, "data", "a"), "lower\n");
    writeFileSync(join(mid, "data", "gone"), "lower\n");
    symlinkSync("www", join(mid, "lnk"));
    writeFileSync(join(mid, "was-file"), "lower\n");
    const top = join(dir, "opaque-top");
    mkdirSync(join(top, "www"), { recursive: true });
    writeFileSync(join(top, "www", "new.html"), "top\n");
    // The image store's marker contract: the snapshot's sidecar lists opaque dirs.
    writeFileSync(`${top}.json`, JSON.stringify({ whiteoutFormat: "overlay", opaque: ["www"] }));
    // AUFS-style markers (what an unprivileged snapshot holds) are honoured too.
    mkdirSync(join(top, "data"), { recursive: true });
    writeFileSync(join(top, "data", ".wh..wh..opq"), "");
    writeFileSync(join(top, "data", "b"), "top\n");
    writeFileSync(join(top, ".wh.was-file"), "");
    // A real directory replacing a lower symlink: nothing may be written through it.
    mkdirSync(join(top, "lnk"), { recursive: true });
    writeFileSync(join(top, "lnk", "inside"), "top\n");
    const target = join(dir, "rootfs-opaque");
    const got = await makeRootfs(
      dir,
      {
        layers: [...image.layers, mid, top],
        upper: join(dir, "upper-opaque"),
        work: join(dir, "work-opaque"),
        target,
        copyDir: join(dir, "copy-opaque"),
        id: "opaque",
        logger: quiet,
      },
      true,
    );
    expect(got).toBe("copy");
    expect(readdirSync(join(target, "www"))).toEqual(["new.html"]);
    expect(readdirSync(join(target, "data")).sort()).toEqual(["b"]);
    expect(existsSync(join(target, "was-file"))).toBe(false);
    expect(lstatSync(join(target, "lnk")).isDirectory()).toBe(true);
    expect(readdirSync(join(target, "lnk"))).toEqual(["inside"]);
    expect(readFileSync(join(target, "etc", "layer"), "utf8")).toBe("top\n");
    await removeTree(target);
  });

  it("overlay: a lowerdir too long for one page is mounted relative to the layers' common parent", async () => {
    const parent = join(dir, "many-layers-with-a-rather-long-parent-directory-name", "snapshots");
    const layers: string[] = [];
    for (let i = 0; i < 50; i++) {
      const l = join(parent, `${String(i).padStart(2, "0")}${"f".repeat(62)}`);
      mkdirSync(l, { recursive: true });
      writeFileSync(join(l, `from-${i}`), `${i}\n`);
      writeFileSync(join(l, "which"), `${i}\n`);
      layers.push(l);
    }
    const upper = join(dir, "upper-long");
    const work = join(dir, "work-long");
    expect(layers.join(":").length).toBeGreaterThan(4096);
    expect(overlayMountPlan(layers, upper, work)).toMatchObject({ cwd: parent });
    const target = join(dir, "rootfs-long");
    const warnings: string[] = [];
    const got = await makeRootfs(dir, {
      layers,
      upper,
      work,
      target,
      copyDir: join(dir, "copy-long"),
      id: "long",
      logger: { warn: (m) => warnings.push(m) },
    });
    expect(warnings).toEqual([]);
    expect(got).toBe("overlay");
    expect(readFileSync(join(target, "which"), "utf8")).toBe("49\n");
    expect(readFileSync(join(target, "from-0"), "utf8")).toBe("0\n");
    await removeTree(target);
    // Past what even relative paths fit, it is honest about copying.
    expect(overlayMountPlan([...layers, ...layers.map((l) => `${l}x`)], upper, work)).toBeUndefined();
  });
});
