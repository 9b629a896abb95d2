/**
 * What a user gets from npm: every publishable package packed with `pnpm pack` (as `pnpm publish`
 * would), installed from the tarballs alone into an empty prefix with `npm install --global`, and the
 * installed `servin` bin run for real — `servin version`, then `servin cri start` with the memory
 * backends and `servin cri test` against it.
 *
 * Runs after `pnpm build` (the packages ship dist/). In CI (SERVIN_REQUIRE_REAL=1) it never skips;
 * elsewhere it skips when dist/ has not been built.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../conformance/servin-process.js";

const run = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");
const require_real = process.env.SERVIN_REQUIRE_REAL === "1";

interface Manifest {
  name: string;
  private?: boolean;
  exports?: unknown;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

const packageDirs = [
  ...readdirSync(join(repo, "packages")).map((d) => join(repo, "packages", d)),
  join(repo, "apps", "servin"),
].filter((dir) => {
  const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
  return !manifest.private;
});

const built = packageDirs.every((dir) => existsSync(join(dir, "dist")));

describe.skipIf(!built && !require_real)("packed tarballs installed with npm", () => {
  let work: string;
  let tarballs: string[] = [];
  let bin: string;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    if (!built) throw new Error("dist/ missing: run `pnpm build` before this test (pnpm test does)");
    work = mkdtempSync(join(tmpdir(), "servin-pack-"));
    const packs = join(work, "tarballs");
    for (const dir of packageDirs) {
      await run("pnpm", ["pack", "--pack-destination", packs], { cwd: dir });
    }
    tarballs = readdirSync(packs)
      .filter((f) => f.endsWith(".tgz"))
      .map((f) => join(packs, f));
    const prefix = join(work, "global");
    // `npm i -g` into a prefix of our own: the same layout (lib/node_modules, bin/servin symlink).
    await run(
      "npm",
      ["install", "--global", "--prefix", prefix, "--no-audit", "--no-fund", "--prefer-offline", ...tarballs],
      { cwd: work, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 },
    );
    bin = join(prefix, "bin", "servin");
  }, 360_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      await new Promise((resolve) => server?.once("exit", resolve));
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("packs one tarball per publishable package, each with LICENSE, README and dist, no source condition", async () => {
    expect(tarballs).toHaveLength(packageDirs.length);
    for (const tarball of tarballs) {
      const { stdout } = await run("tar", ["tzf", tarball]);
      const files = stdout.split("\n");
      expect(files, tarball).toContain("package/LICENSE");
      expect(files, tarball).toContain("package/README.md");
      expect(
        files.some((f) => f.startsWith("package/dist/")),
        tarball,
      ).toBe(true);
      expect(
        files.some((f) => f.startsWith("package/src/")),
        tarball,
      ).toBe(false);
      const { stdout: text } = await run("tar", ["xzf", tarball, "-O", "package/package.json"]);
      const manifest = JSON.parse(text) as Manifest;
      // The `source` condition points at src/, which is not shipped: the packed exports drop it.
      expect(JSON.stringify(manifest.exports ?? {}), manifest.name).not.toContain('"source"');
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {}))
        expect(range, `${manifest.name} → ${dep}`).not.toMatch(/^workspace:/);
    }
  });

  it("installs a `servin` bin that runs with node", async () => {
    expect(realpathSync(bin)).toMatch(/node_modules\/servin\/dist\/servin\.js$/);
    expect(readFileSync(realpathSync(bin), "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
    const { stdout: version } = await run(bin, ["--version"]);
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const { stdout: help } = await run(bin, ["--help"]);
    expect(help).toContain("cri");
  });

  it("starts `servin cri start` with the memory backends and passes `servin cri test`", async () => {
    const port = await freePort();
    const root = join(work, "root");
    server = spawn(
      bin,
      [
        "cri",
        "start",
        "--backend",
        "memory",
        "--image-backend",
        "memory",
        "--port",
        String(port),
        "--grpc-socket",
        join(work, "servin.sock"),
        "--root",
        root,
        "--state-dir",
        join(work, "state"),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    server.stdout?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    server.stderr?.on("data", (d: Buffer) => {
      log += d.toString();
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (server.exitCode !== null || Date.now() > deadline)
        throw new Error(`servin cri start did not come up:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { stdout: version } = await run(bin, ["version", "--port", String(port)]);
    expect(version).toContain("server: servin");
    const { stdout } = await run(bin, ["cri", "test", "--port", String(port)], { timeout: 60_000 });
    expect(stdout).toMatch(/all \d+ checks passed/);
  }, 120_000);
});
