import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readFileInRoot } from "./_fs.js";

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
