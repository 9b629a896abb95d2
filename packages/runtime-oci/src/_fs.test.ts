import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dirUsage, readFileInRoot } from "./_fs.js";

const dir = mkdtempSync(join(tmpdir(), "servin-oci-fs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readFileInRoot", () => {
  const root = join(dir, "rootfs");
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "real"), { recursive: true });
  writeFileSync(join(root, "real", "passwd"), "inside\n");
  writeFileSync(join(dir, "outside"), "host secret\n");

  it("resolves absolute symlinks against the rootfs, never the host", async () => {
    symlinkSync("/real/passwd", join(root, "etc", "passwd"));
    await expect(readFileInRoot(root, "/etc/passwd")).resolves.toBe("inside\n");
  });
  it("cannot climb out with ..", async () => {
    symlinkSync("../../../../outside", join(root, "etc", "group"));
    expect(await readFileInRoot(root, "/etc/group")).toBeUndefined();
  });
  it("returns undefined for missing files", async () => {
    expect(await readFileInRoot(root, "/nope")).toBeUndefined();
  });
});

describe("dirUsage", () => {
  it("counts bytes and inodes, and zero for a missing dir", async () => {
    const d = join(dir, "usage");
    mkdirSync(join(d, "sub"), { recursive: true });
    writeFileSync(join(d, "sub", "f"), Buffer.alloc(10_000, 1));
    const u = await dirUsage(d);
    expect(u.inodes).toBe(2);
    expect(u.bytes).toBeGreaterThanOrEqual(8192);
    expect(await dirUsage(join(dir, "missing"))).toEqual({ bytes: 0, inodes: 0 });
  });
});
