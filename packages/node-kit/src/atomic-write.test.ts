import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ATOMIC_TEMP_MARKER, atomicWriteFile, isAtomicTempFile, syncDir } from "./atomic-write.js";

const dir = await mkdtemp(join(tmpdir(), "servin-node-kit-atomic-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("atomicWriteFile", () => {
  it("creates the file 0600 by default and replaces it whole, leaving no temp file", async () => {
    const path = join(dir, "state.json");
    await atomicWriteFile(path, '{"v":1}');
    expect(await readFile(path, "utf8")).toBe('{"v":1}');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await atomicWriteFile(path, new TextEncoder().encode('{"v":2}'));
    expect(await readFile(path, "utf8")).toBe('{"v":2}');
    expect(await readdir(dir)).toEqual(["state.json"]);
  });

  it("honours mode for a new file, and sync: false still writes atomically", async () => {
    const path = join(dir, "hostname");
    await atomicWriteFile(path, "pod\n", { mode: 0o644, sync: false });
    expect(await readFile(path, "utf8")).toBe("pod\n");
    expect((await stat(path)).mode & 0o777).toBe(0o644);
  });

  it("removes its temp file and keeps the old target when the rename fails", async () => {
    const sub = join(dir, "rename-fails");
    const target = join(sub, "target");
    await mkdir(join(target, "child"), { recursive: true }); // a non-empty directory cannot be renamed over
    await expect(atomicWriteFile(target, "x")).rejects.toMatchObject({ code: "EISDIR" });
    expect(await readdir(sub)).toEqual(["target"]);
    expect(await readdir(target)).toEqual(["child"]);
  });

  it("fails with ENOENT when the directory does not exist (it creates no parents)", async () => {
    await expect(atomicWriteFile(join(dir, "missing", "file"), "x")).rejects.toMatchObject({
      code: "ENOENT",
    });
  });

  it("concurrent writers to one path leave exactly one complete version", async () => {
    const path = join(dir, "raced");
    const versions = Array.from({ length: 20 }, (_, i) => `${i}:`.padEnd(64 * 1024, String(i % 10)));
    await Promise.all(versions.map((v) => atomicWriteFile(path, v)));
    expect(versions).toContain(await readFile(path, "utf8"));
    expect((await readdir(dir)).filter(isAtomicTempFile)).toEqual([]);
  });
});

describe("isAtomicTempFile", () => {
  it("recognises the temp names atomicWriteFile uses and nothing else", () => {
    expect(isAtomicTempFile(`abc.json${ATOMIC_TEMP_MARKER}12-deadbeef`)).toBe(true);
    expect(isAtomicTempFile("abc.json")).toBe(false);
    expect(isAtomicTempFile("abc.json.corrupt")).toBe(false);
  });
});

describe("syncDir", () => {
  it("fsyncs an existing directory and rejects a missing one", async () => {
    await expect(syncDir(dir)).resolves.toBeUndefined();
    await expect(syncDir(join(dir, "nope"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("works on a directory holding a file just written (smoke)", async () => {
    await writeFile(join(dir, "plain"), "x");
    await expect(syncDir(dir)).resolves.toBeUndefined();
  });
});
