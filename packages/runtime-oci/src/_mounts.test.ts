import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isMountPoint, mountPointsIn, parseMountInfo } from "./_mounts.js";

/** mountinfo lines as the kernel writes them (proc(5)): the mount point is the fifth field. */
const line = (
  id: number,
  root: string,
  mountPoint: string,
  rest = "rw,relatime shared:1 - ext4 /dev/vda rw",
) => `${id} 1 8:1 ${root} ${mountPoint} ${rest}`;

const TEXT = [
  line(21, "/", "/"),
  line(
    22,
    "/",
    "/run/servin/c1/rootfs",
    "rw shared:2 - overlay overlay rw,lowerdir=/l1,upperdir=/u,workdir=/w",
  ),
  line(23, "/", "/run/servin/c1/rootfs/proc", "rw - proc proc rw"),
  line(24, "/", "/run/servin/c1/rootfs2", "rw - tmpfs tmpfs rw"),
  // Its root (fourth field) names c2, its mount point does not.
  line(25, "/run/servin/c2/rootfs", "/mnt/elsewhere"),
  line(26, "/", "/run/servin/with\\040space/shm", "rw - tmpfs shm rw"),
  line(27, "/", "/run/servin/back\\134slash", "rw - tmpfs tmpfs rw"),
  "28 1 8:1 /", // cut short: fewer than five fields
  line(29, "/", "/run/servin/c1/rootfs", "rw - overlay overlay rw"), // stacked on 22
  "",
].join("\n");

describe("mountPointsIn", () => {
  it("finds a mount point and every mount below it, deepest first, stacked ones each time", () => {
    expect(mountPointsIn(TEXT, "/run/servin/c1/rootfs")).toEqual([
      "/run/servin/c1/rootfs/proc",
      "/run/servin/c1/rootfs",
      "/run/servin/c1/rootfs",
    ]);
  });

  it("does not take a sibling that only shares the prefix (rootfs2 for rootfs)", () => {
    expect(mountPointsIn(TEXT, "/run/servin/c1/rootfs")).not.toContain("/run/servin/c1/rootfs2");
    expect(mountPointsIn(TEXT, "/run/servin/c1/rootfs2")).toEqual(["/run/servin/c1/rootfs2"]);
  });

  it("only looks at the mount point, not at the root field", () => {
    expect(mountPointsIn(TEXT, "/run/servin/c2/rootfs")).toEqual([]);
    expect(mountPointsIn(TEXT, "/mnt/elsewhere")).toEqual(["/mnt/elsewhere"]);
  });

  it("matches paths the kernel escaped (space, backslash) and gives them back unescaped", () => {
    expect(mountPointsIn(TEXT, "/run/servin/with space/shm", false)).toEqual(["/run/servin/with space/shm"]);
    expect(mountPointsIn(TEXT, "/run/servin/with space")).toEqual(["/run/servin/with space/shm"]);
    expect(mountPointsIn(TEXT, "/run/servin/back\\slash", false)).toEqual(["/run/servin/back\\slash"]);
  });

  it("with below = false only answers the path itself", () => {
    expect(mountPointsIn(TEXT, "/run/servin/c1", false)).toEqual([]);
    expect(mountPointsIn(TEXT, "/run/servin/c1/rootfs/proc", false)).toEqual(["/run/servin/c1/rootfs/proc"]);
  });

  it("takes / as itself only, and skips a line cut short", () => {
    expect(mountPointsIn(TEXT, "/")).toEqual(["/"]);
    expect(mountPointsIn("28 1 8:1 /", "/")).toEqual([]);
    expect(mountPointsIn("", "/")).toEqual([]);
  });

  it("agrees with the full parse on this host's own mountinfo", async () => {
    // One reading for both: other test files mount and unmount meanwhile.
    const text = readFileSync("/proc/self/mountinfo", "utf8");
    const all = parseMountInfo(text);
    expect(all.length).toBeGreaterThan(0);
    for (const { mountPoint } of all) {
      expect(mountPointsIn(text, mountPoint, false).length).toBe(
        all.filter((m) => m.mountPoint === mountPoint).length,
      );
      expect(mountPointsIn(text, mountPoint)).toEqual(
        all
          .map((m) => m.mountPoint)
          .filter((mp) => mp === mountPoint || mp.startsWith(`${mountPoint}/`))
          .sort((a, b) => b.length - a.length),
      );
    }
    expect(await isMountPoint("/")).toBe(true);
    expect(await isMountPoint("/proc/self/no-such-mount")).toBe(false);
  });
});
