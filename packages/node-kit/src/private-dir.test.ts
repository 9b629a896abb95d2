import { chmod, chown, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensurePrivateDir, PRIVATE_DIR_MODE } from "./private-dir.js";

const dir = await mkdtemp(join(tmpdir(), "servin-node-kit-private-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

function recorder() {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => void warnings.push(m) };
}

describe("ensurePrivateDir", () => {
  it("creates the directory and missing parents 0700, silently", async () => {
    const logger = recorder();
    const path = join(dir, "a", "b");
    await ensurePrivateDir(path, logger);
    expect((await lstat(path)).mode & 0o7777).toBe(PRIVATE_DIR_MODE);
    expect(logger.warnings).toEqual([]);
  });

  it("repairs a directory others can enter and says so", async () => {
    const logger = recorder();
    const path = join(dir, "loose");
    await mkdir(path);
    await chmod(path, 0o755);
    await ensurePrivateDir(path, logger);
    expect((await lstat(path)).mode & 0o7777).toBe(0o700);
    expect(logger.warnings).toEqual([expect.stringContaining("was mode 0755")]);
  });

  it("refuses a symlink or a file with FailedPrecondition", async () => {
    await mkdir(join(dir, "real"), { mode: 0o700 });
    await symlink(join(dir, "real"), join(dir, "link"));
    await writeFile(join(dir, "file"), "");
    for (const name of ["link", "file"])
      await expect(ensurePrivateDir(join(dir, name), recorder())).rejects.toMatchObject({
        code: "FailedPrecondition",
        message: expect.stringContaining("must be a directory"),
      });
  });

  it.skipIf(process.getuid?.() !== 0)(
    "refuses a directory another user owns (needs root to chown)",
    async () => {
      const path = join(dir, "foreign");
      await mkdir(path, { mode: 0o700 });
      await chown(path, 65534, 65534);
      await expect(ensurePrivateDir(path, recorder())).rejects.toMatchObject({
        code: "FailedPrecondition",
        message: expect.stringContaining("owned by uid 65534"),
      });
    },
  );
});
