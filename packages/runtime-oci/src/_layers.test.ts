import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readFileInRoot } from "./_fs.js";
import { readFileInLayers } from "./_layers.js";

const dir = mkdtempSync(join(tmpdir(), "servin-oci-layers-"));
afterAll(() => {
  try {
    execFileSync("umount", [join(dir, "merged")], { stdio: "ignore" });
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});
const root = process.getuid?.() === 0;

/** Three layers (lowest first) exercising every overlayfs rule the reader follows. */
function layers(): string[] {
  const [l0, l1, l2] = ["l0", "l1", "l2"].map((n) => join(dir, n)) as [string, string, string];
  const file = (layer: string, rel: string, text: string) => {
    mkdirSync(join(layer, rel, ".."), { recursive: true });
    writeFileSync(join(layer, rel), text);
  };
  file(l0, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  file(l0, "etc/group", "root:x:0:\n");
  file(l0, "etc/hidden", "lower\n");
  file(l0, "opaque/old", "lower\n");
  file(l0, "real/shadowed", "lower\n");
  file(l0, "gone/file", "lower\n");
  symlinkSync("/real/target", join(l0, "etc", "link"));
  file(l1, "real/target", "through the link\n");
  file(l1, "etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n");
  if (root) execFileSync("mknod", [join(l1, "etc", "hidden"), "c", "0", "0"]); // a whiteout
  // Opaque as the image store records it for Node (the xattr itself is set by tar at unpack).
  writeFileSync(`${l1}.json`, JSON.stringify({ opaque: ["opaque"] }));
  file(l1, "opaque/new", "upper\n");
  file(l2, "gone", "a file over a lower directory\n");
  symlinkSync("../../../../../outside", join(l2, "escape"));
  writeFileSync(join(dir, "outside"), "host secret\n");
  return [l0, l1, l2];
}
const stack = layers();

describe("readFileInLayers", () => {
  const cases = [
    "/etc/passwd",
    "/etc/group",
    "/etc/hidden",
    "/etc/link",
    "/opaque/new",
    "/real/shadowed",
    "/gone/file",
    "/gone",
    "/escape",
    "/nope",
  ];
  it("follows overlayfs: topmost wins, whiteouts and opaque dirs hide, symlinks stay inside", async () => {
    expect(await readFileInLayers(stack, "/etc/passwd")).toBe("app:x:1000:1000::/home/app:/bin/sh\n");
    expect(await readFileInLayers(stack, "/etc/group")).toBe("root:x:0:\n");
    if (root) expect(await readFileInLayers(stack, "/etc/hidden")).toBeUndefined();
    expect(await readFileInLayers(stack, "/etc/link")).toBe("through the link\n");
    expect(await readFileInLayers(stack, "/opaque/old")).toBeUndefined();
    expect(await readFileInLayers(stack, "/opaque/new")).toBe("upper\n");
    expect(await readFileInLayers(stack, "/gone/file")).toBeUndefined();
    expect(await readFileInLayers(stack, "/escape")).toBeUndefined();
  });

  // The opaque directory is left out: its xattr needs tar (the image store's way), the sidecar stands for it here.
  it.skipIf(!root)("reads what a real overlay mount of the same layers shows", async () => {
    const merged = join(dir, "merged");
    for (const d of ["merged", "upper", "work"]) mkdirSync(join(dir, d), { recursive: true });
    const lower = [...stack].reverse().join(":");
    execFileSync("mount", [
      "-t",
      "overlay",
      "overlay",
      "-o",
      `lowerdir=${lower},upperdir=${join(dir, "upper")},workdir=${join(dir, "work")}`,
      merged,
    ]);
    for (const path of cases) {
      expect(await readFileInLayers(stack, path), path).toBe(await readFileInRoot(merged, path));
    }
  });
});
