/** Container rootfs on the host: overlayfs (lowerdir order) and the copy fallback with whiteouts. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isMountPoint, mountRootfs, removeTree } from "../src/_mounts.js";
import { makeBusyboxImage } from "./fixtures/busybox-image.js";
import { canRunReal } from "./fixtures/harness.js";

const real = canRunReal();

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
      const got = await mountRootfs({
        layers: [...image.layers, top],
        upper: join(dir, `upper-${mode}`),
        work: join(dir, `work-${mode}`),
        target,
        copyDir: join(dir, `copy-${mode}`),
        forceCopy: mode === "copy",
      });
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
});
