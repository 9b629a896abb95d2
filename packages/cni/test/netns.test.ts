/** Pinned network namespaces (real unshare/umount, root only). */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNetns, listNetns, netnsMountPoint, removeNetns } from "../src/index.js";

const canRun = process.getuid?.() === 0;
if (!canRun && process.env.SERVIN_REQUIRE_REAL === "1") throw new Error("SERVIN_REQUIRE_REAL=1 but not root");

describe.skipIf(!canRun)("pinned network namespaces (real unshare)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(await mkdtemp(join(tmpdir(), "servin-netns-")), "netns");
  });
  afterAll(async () => {
    for (const ns of await listNetns(dir)) await removeNetns(ns.path);
    await rm(join(dir, ".."), { recursive: true, force: true });
  });

  it("creates a namespace that outlives its creator, with lo up, and finds it again", async () => {
    const path = await createNetns(dir, "pod-a");
    expect(path).toBe(join(dir, "pod-a"));
    const inside = execFileSync("nsenter", [`--net=${path}`, "ip", "-br", "link"], { encoding: "utf8" });
    expect(inside.trim()).toMatch(/^lo\s+UNKNOWN/); // only lo, and up
    const inode = (await stat(path)).ino;
    expect(await createNetns(dir, "pod-a")).toBe(path); // a retry reuses it
    expect((await stat(path)).ino).toBe(inode);
    expect(await listNetns(dir)).toEqual([{ id: "pod-a", path, mounted: true }]);
  });

  it("netnsMountPoint makes the file for `unshare --net=FILE` to pin, and finds a pinned one again", async () => {
    const mp = await netnsMountPoint(dir, "pod-c");
    expect(mp).toEqual({ path: join(dir, "pod-c"), pinned: false });
    expect(await listNetns(dir)).toContainEqual({ id: "pod-c", path: mp.path, mounted: false });
    execFileSync("unshare", [`--net=${mp.path}`, "true"]);
    expect(await netnsMountPoint(dir, "pod-c")).toEqual({ path: mp.path, pinned: true });
    expect(await listNetns(dir)).toContainEqual({ id: "pod-c", path: mp.path, mounted: true });
    await removeNetns(mp.path);
    expect((await listNetns(dir)).map((n) => n.id)).not.toContain("pod-c");
  });

  it("lists a file whose pin was lost as unmounted, and removes both kinds idempotently", async () => {
    await writeFile(join(dir, "pod-b"), ""); // a crash between create and pin
    await writeFile(join(dir, "not an id"), "");
    expect((await listNetns(dir)).map((n) => [n.id, n.mounted])).toEqual([
      ["pod-a", true],
      ["pod-b", false],
    ]);
    await removeNetns(join(dir, "pod-a"));
    await removeNetns(join(dir, "pod-a"));
    await removeNetns(join(dir, "pod-b"));
    expect(await listNetns(dir)).toEqual([]);
    const mounts = execFileSync("cat", ["/proc/self/mountinfo"], { encoding: "utf8" });
    expect(mounts).not.toContain(join(dir, "pod-a"));
    await rm(join(dir, "not an id"));
  });
});
