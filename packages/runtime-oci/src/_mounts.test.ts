import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOk } from "./_exec.js";
import {
  forkUmount,
  isMountPoint,
  mountPointsIn,
  parseMountInfo,
  removeTree,
  sharedReader,
  type Umount,
} from "./_mounts.js";

const root = process.getuid?.() === 0;

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

describe("sharedReader", () => {
  it("answers each call with a reading begun after it; those who ask during one share the next", async () => {
    const pending: Array<(v: number) => void> = [];
    const read = sharedReader(() => new Promise<number>((resolve) => pending.push(resolve)));
    const a = read(); // reading 1 begins
    const b = read(); // during 1: waits for 2
    const c = read(); // during 1: shares 2
    expect(pending).toHaveLength(1);
    pending[0]?.(1);
    expect(await a).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(pending).toHaveLength(2); // reading 2 began once 1 was done
    const d = read(); // during 2: waits for 3
    pending[1]?.(2);
    expect([await b, await c]).toEqual([2, 2]);
    await new Promise((r) => setImmediate(r));
    pending[2]?.(3);
    expect(await d).toBe(3);
    expect(pending).toHaveLength(3);
    // Nothing under way: a call begins its own reading at once.
    const e = read();
    expect(pending).toHaveLength(4);
    pending[3]?.(4);
    expect(await e).toBe(4);
  });

  it("passes a failed reading to those who shared it, and the next call reads again", async () => {
    let n = 0;
    const read = sharedReader(async () => {
      n++;
      if (n === 1) throw new Error("EIO");
      return n;
    });
    await expect(read()).rejects.toThrow("EIO");
    expect(await read()).toBe(2);
  });
});

describe.skipIf(!root)("removeTree (real mounts)", () => {
  it("unmounts what is mounted inside, nested and stacked, before it deletes: a bind mount's source keeps its files", async () => {
    const base = await mkdtemp(join(tmpdir(), "servin-removetree-"));
    try {
      const outside = join(base, "outside");
      const tree = join(base, "bundle");
      const rootfs = join(tree, "rootfs");
      await mkdir(outside);
      await writeFile(join(outside, "keep"), "host data\n");
      await mkdir(join(rootfs, "data"), { recursive: true });
      await runOk("mount", ["-t", "tmpfs", "servin-test", rootfs]);
      await runOk("mount", ["-t", "tmpfs", "servin-test", rootfs]); // stacked on the first
      await mkdir(join(rootfs, "data"));
      await runOk("mount", ["--bind", outside, join(rootfs, "data")]);
      const umounts: string[] = [];
      const counting: Umount = (path, lazy) => {
        umounts.push(path);
        return forkUmount(path, lazy);
      };

      await removeTree(tree, counting);

      expect(existsSync(tree)).toBe(false);
      expect(mountPointsIn(readFileSync("/proc/self/mountinfo", "utf8"), tree)).toEqual([]);
      expect(await readdir(outside)).toEqual(["keep"]);
      // Deepest first, then each layer of the stacked mount: one umount each.
      expect(umounts).toEqual([join(rootfs, "data"), rootfs, rootfs]);
    } finally {
      for (const mp of mountPointsIn(readFileSync("/proc/self/mountinfo", "utf8"), base))
        await forkUmount(mp, true);
      await rm(base, { recursive: true, force: true });
    }
  });

  it("deletes nothing when a mount will not go, and says which", async () => {
    const base = await mkdtemp(join(tmpdir(), "servin-removetree-"));
    try {
      const mp = join(base, "mnt");
      await mkdir(mp);
      await runOk("mount", ["-t", "tmpfs", "servin-test", mp]);
      await writeFile(join(mp, "file"), "x");
      const refusing: Umount = async () => 32;
      await expect(removeTree(base, refusing)).rejects.toThrow(`${base}: still mounted after 8 rounds`);
      expect(await readdir(mp)).toEqual(["file"]);
    } finally {
      await forkUmount(join(base, "mnt"), true);
      await rm(base, { recursive: true, force: true });
    }
  });
});
