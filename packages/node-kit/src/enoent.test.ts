import { lstat, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ignoreEnoent, isEnoent } from "./enoent.js";

const dir = await mkdtemp(join(tmpdir(), "servin-node-kit-enoent-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("ignoreEnoent", () => {
  it("answers undefined for a missing file and the value for a present one", async () => {
    expect(await ignoreEnoent(lstat(join(dir, "missing")))).toBeUndefined();
    await writeFile(join(dir, "present"), "hi");
    expect(await ignoreEnoent(readFile(join(dir, "present"), "utf8"))).toBe("hi");
  });

  it("rethrows every other error, e.g. ENOTDIR", async () => {
    await writeFile(join(dir, "file"), "");
    await expect(ignoreEnoent(lstat(join(dir, "file", "below")))).rejects.toMatchObject({ code: "ENOTDIR" });
    await expect(ignoreEnoent(Promise.reject(new Error("boom")))).rejects.toThrow("boom");
  });
});

describe("isEnoent", () => {
  it("is true only for errors with code ENOENT", async () => {
    const err = await lstat(join(dir, "missing")).catch((e: unknown) => e);
    expect(isEnoent(err)).toBe(true);
    expect(isEnoent(Object.assign(new Error("x"), { code: "EACCES" }))).toBe(false);
    expect(isEnoent(undefined)).toBe(false);
    expect(isEnoent("ENOENT")).toBe(false);
  });
});
