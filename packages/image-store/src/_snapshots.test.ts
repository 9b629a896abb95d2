/** Snapshot deletion is seen at once (a snapshot GC is removing never counts as present); where new snapshots are placed. */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ContentStore } from "./_content-store.js";
import { sha256Digest } from "./_digest.js";
import { SnapshotStore } from "./_snapshots.js";

describe("deletions in progress", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("make has() wait, so a pull never reuses a half-deleted snapshot or blob", async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-snap-"));
    const snaps = new SnapshotStore(dir);
    await snaps.init();
    const diffId = sha256Digest("layer");
    // A snapshot big enough that removing it takes many steps.
    const path = snaps.path(diffId);
    await mkdir(path);
    await Promise.all(Array.from({ length: 2000 }, (_, i) => writeFile(join(path, `f${i}`), "x")));
    expect(await snaps.has(diffId)).toBe(true);
    const deleting = snaps.delete(diffId);
    expect(await snaps.has(diffId)).toBe(false);
    await deleting;

    const content = new ContentStore(dir);
    await content.init();
    const blob = Buffer.from("blob");
    const digest = sha256Digest(blob);
    await content.ingest(digest, blob.length, async () => [blob]);
    const gone = content.delete(digest);
    expect(await content.has(digest)).toBe(false);
    await gone;
  });
});

describe("snapshot placement", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("marks tmp/ as an ext4 top directory, so each new snapshot starts in a block group of its own", async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-snap-"));
    const snaps = new SnapshotStore(dir);
    await snaps.init();
    const spread = await snaps.spread;
    // What the filesystem itself says: `lsattr` lists T; it fails where there are no ext2/3/4 attributes.
    const attrs = await new Promise<string | undefined>((resolve) =>
      execFile("lsattr", ["-d", snaps.tmpDir], (err, out) => resolve(err ? undefined : out.split(" ")[0])),
    );
    const fsType = await new Promise<string>((resolve) =>
      execFile("stat", ["-f", "-c", "%T", dir!], (err, out) => resolve(err ? "" : out.trim())),
    );
    // `stat -f` names ext4 "ext2/ext3" (one magic number for the three).
    if (fsType.startsWith("ext2")) expect(spread).toBe(true);
    expect(spread).toBe(attrs?.includes("T") ?? false);
    // Made again at the next start (init empties tmp/ by removing it): still marked.
    await snaps.init();
    expect(await snaps.spread).toBe(spread);
  });
});
