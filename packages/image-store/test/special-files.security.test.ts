/**
 * No local root through image snapshots (issue 14 #1): layers keep their
 * setuid files, device nodes and FIFOs, so no other user may reach any path
 * under the store. An unprivileged user walks every path servin created and
 * tries to list, execute, read and write each one; with the directories
 * loosened as the issue found them, the same probe does get euid=0 (the
 * probe works), and the next start-up repairs them.
 */
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { chmod, lstat, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  canProbeAsNobody,
  OciLayout,
  probeAsNobody,
  pushLayout,
  registryToolsAvailable,
  walkPaths,
} from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";
import { type Fixture, setupRegistry } from "./_fixture.js";

const disk = hostDisk(statSync("/").dev);
const canDrop = canProbeAsNobody();

/** The block device holding `/`: the host disk, the worst node an image could smuggle in. */
function hostDisk(dev: number): { major: number; minor: number } {
  return { major: (dev >> 8) & 0xfff, minor: (dev & 0xff) | ((dev >> 12) & 0xfff00) };
}

describe.skipIf(!registryToolsAvailable() || !canDrop)("no local root through image snapshots", () => {
  let fx: Fixture;
  let probeDir: string;
  beforeAll(async () => {
    fx = await setupRegistry();
    // The store's parent is world-traversable here, like /var/lib: only servin's own modes protect it.
    await chmod(fx.tmp, 0o755);
    probeDir = fx.tmp;
    const dir = join(fx.tmp, "special");
    const layout = await new OciLayout(dir).init();
    const id = await readFile("/usr/bin/id");
    await layout.image("suid", [
      await layout.layer({
        entries: [
          { path: "suid-id", type: "file", data: id, mode: 0o4755 },
          { path: "sgid-id", type: "file", data: id, mode: 0o2755 },
          { path: "deep/", type: "dir", mode: 0o755 },
          { path: "deep/er/", type: "dir", mode: 0o777 },
          { path: "deep/er/suid-id", type: "file", data: id, mode: 0o4777 },
        ],
      }),
    ]);
    await layout.image("devices", [
      await layout.layer({
        entries: [
          { path: "null-666", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
          { path: "disk", type: "block", devmajor: disk.major, devminor: disk.minor, mode: 0o666 },
          { path: "fifo", type: "fifo", mode: 0o666 },
          { path: "null-link", type: "link", linkname: "null-666" },
          { path: "disk-link", type: "link", linkname: "disk" },
          { path: "fifo-link", type: "link", linkname: "fifo" },
        ],
      }),
    ]);
    for (const tag of ["suid", "devices"])
      await pushLayout(dir, tag, `${fx.reg.directHost}/special/${tag}:v1`);
  }, 60_000);
  afterAll(async () => {
    await fx?.cleanup();
  });

  const probe = async (paths: string[]): Promise<string[]> => probeAsNobody(probeDir, paths);
  const walk = async (dir: string): Promise<string[]> => walkPaths(dir);

  const pullBoth = async (root: string, logger?: { warn(m: string): void }) => {
    const s = await createImageService({
      backend: await createDiskImageBackend({
        root,
        ...(logger ? { logger: { debug() {}, info() {}, error() {}, ...logger } } : {}),
      }),
    });
    const layers: Record<string, string> = {};
    for (const tag of ["suid", "devices"]) {
      const ref = `${fx.reg.host}/special/${tag}:v1`;
      await s.pullImage({ image: { image: ref } });
      layers[tag] = (await s.resolveImage(ref)).layers[0]!;
    }
    return { s, layers };
  };

  it("keeps setuid bits, device nodes, FIFOs and hard links to them, as containerd does", async () => {
    const root = await fx.newRoot();
    const { s, layers } = await pullBoth(root);
    const suid = await lstat(join(layers.suid!, "suid-id"));
    expect(suid.mode & 0o7777).toBe(0o4755);
    expect(suid.uid).toBe(0);
    expect((await lstat(join(layers.suid!, "sgid-id"))).mode & 0o7777).toBe(0o2755);
    const nul = await lstat(join(layers.devices!, "null-666"));
    expect(nul.isCharacterDevice()).toBe(true);
    expect(nul.rdev).toBe((1 << 8) | 3);
    expect(nul.mode & 0o777).toBe(0o666);
    expect((await lstat(join(layers.devices!, "disk"))).isBlockDevice()).toBe(true);
    expect((await lstat(join(layers.devices!, "fifo"))).isFIFO()).toBe(true);
    for (const [link, target] of [
      ["null-link", "null-666"],
      ["disk-link", "disk"],
      ["fifo-link", "fifo"],
    ]) {
      expect((await lstat(join(layers.devices!, link!))).ino).toBe(
        (await lstat(join(layers.devices!, target!))).ino,
      );
    }
    // Every directory of the store is root's alone.
    for (const d of [
      "images",
      "images/snapshots",
      "images/blobs",
      "images/blobs/sha256",
      "images/tmp",
      "images/ingest",
    ])
      expect(((await stat(join(root, d))).mode & 0o777).toString(8)).toBe("700");
    await s.close();
  });

  it("lets an unprivileged user neither execute nor open them through any path under the store", async () => {
    const root = await fx.newRoot();
    const { s } = await pullBoth(root);
    const paths = await walk(root);
    // The walk did reach the dangerous files (as root).
    expect(paths.filter((p) => /\/(suid-id|null-666|disk|fifo|null-link)$/.test(p)).length).toBe(6);
    expect(await probe(paths)).toEqual([`LIST ${root}`]);
    await s.close();
  });

  it("repairs loosened directories at start-up (logging it); the probe sees euid=0 before the repair", async () => {
    const root = await fx.newRoot();
    const first = await pullBoth(root);
    const suidPath = join(first.layers.suid!, "suid-id");
    await first.s.close();
    // The modes the issue found: images 0711, snapshots 0755.
    await chmod(join(root, "images"), 0o711);
    await chmod(join(root, "images/snapshots"), 0o755);
    const loose = await probe(await walk(root));
    const nosuid = /\bnosuid\b/.test(
      spawnSync("findmnt", ["-no", "OPTIONS", "-T", root], { encoding: "utf8" }).stdout,
    );
    if (!nosuid)
      expect(loose).toContainEqual(expect.stringMatching(new RegExp(`^EXEC ${suidPath} .*euid=0\\(root\\)`)));
    expect(loose).toContain(`RDWR ${join(first.layers.devices!, "null-666")}`);

    const warnings: string[] = [];
    const again = await createImageService({
      backend: await createDiskImageBackend({
        root,
        logger: { debug() {}, info() {}, error() {}, warn: (m: string) => warnings.push(m) },
      }),
    });
    expect(warnings).toContainEqual(
      `${join(root, "images")} was mode 0711, readable or traversable by other users: repaired to 0700`,
    );
    expect(warnings).toContainEqual(
      `${join(root, "images/snapshots")} was mode 0755, readable or traversable by other users: repaired to 0700`,
    );
    expect(await probe(await walk(root))).toEqual([`LIST ${root}`]);
    // The repaired store still has its images.
    expect((await again.listImages({})).images).toHaveLength(2);
    await again.close();
  });
});
