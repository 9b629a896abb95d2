import { execFileSync } from "node:child_process";
import { link, mkdir, mkdtemp, open, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diskUsage } from "./disk-usage.js";

const dir = await mkdtemp(join(tmpdir(), "servin-node-kit-du-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

/** What GNU du says about `path`: allocated bytes and inodes, hard links counted once. */
function du(path: string): { usedBytes: number; inodesUsed: number } {
  const first = (args: string[]) =>
    Number(execFileSync("du", [...args, path], { encoding: "utf8" }).split("\t")[0]);
  return { usedBytes: first(["-s", "-B1"]), inodesUsed: first(["-s", "--inodes"]) };
}

describe("diskUsage", () => {
  const tree = join(dir, "tree");
  beforeAll(async () => {
    await mkdir(join(tree, "layer1", "bin"), { recursive: true });
    await mkdir(join(tree, "layer2", "bin"), { recursive: true });
    await mkdir(join(tree, "empty"));
    await writeFile(join(tree, "layer1", "bin", "busybox"), Buffer.alloc(300 * 1024, 7));
    // The same inode under three names (busybox applets, layers sharing content): counted once.
    await link(join(tree, "layer1", "bin", "busybox"), join(tree, "layer1", "bin", "sh"));
    await link(join(tree, "layer1", "bin", "busybox"), join(tree, "layer2", "bin", "ls"));
    await writeFile(join(tree, "layer2", "small"), "x");
    await symlink("/etc/passwd", join(tree, "layer2", "passwd")); // not followed
    // A sparse file: 64 MiB long, one block written; counts what it really uses.
    const sparse = await open(join(tree, "sparse"), "w");
    await sparse.write("end", 64 * 1024 * 1024);
    await sparse.close();
  });

  it("agrees with du on bytes and inodes, hard links once, symlinks not followed", async () => {
    const usage = await diskUsage(tree);
    expect(usage).toEqual(du(tree));
    // Sanity: the 300 KiB file counted once (three names), the sparse file not as 64 MiB.
    expect(usage.usedBytes).toBeGreaterThanOrEqual(300 * 1024);
    expect(usage.usedBytes).toBeLessThan(2 * 300 * 1024);
    // tree, layer1, layer1/bin, busybox(=sh=ls), layer2, layer2/bin, small, passwd, empty, sparse
    expect(usage.inodesUsed).toBe(10);
  });

  it("counts a single file and reports 0 for a missing path", async () => {
    expect(await diskUsage(join(tree, "layer2", "small"))).toEqual(du(join(tree, "layer2", "small")));
    expect(await diskUsage(join(dir, "missing"))).toEqual({ usedBytes: 0, inodesUsed: 0 });
  });

  it("walks deep trees without recursion", async () => {
    let path = join(dir, "deep");
    for (let i = 0; i < 500; i++) path = join(path, "d");
    await mkdir(path, { recursive: true });
    expect((await diskUsage(join(dir, "deep"))).inodesUsed).toBe(501);
  });
});
