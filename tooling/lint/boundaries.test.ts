/**
 * The layering rule is enforced by Biome's noRestrictedImports (biome.json "overrides", one per
 * package): this proves it, by linting deliberately wrong-way files with the repository's own config
 * in a scratch tree, so a wrong-way import fails `pnpm check` and CI.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const execFileP = promisify(execFile);
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const biome = join(repo, "node_modules/.bin/biome");

/** Which @servin packages each package's sources may import (the picture in docs/architecture.md). */
const ALLOWED: Record<string, string[]> = {
  "cri-types": [],
  "node-kit": ["cri-types"],
  "cri-messages": ["cri-types"],
  "runtime-core": ["cri-types", "node-kit"],
  "image-store": ["cri-types", "node-kit"],
  cni: ["cri-types", "node-kit"],
  streaming: ["cri-types", "node-kit"],
  "runtime-oci": ["cri-types", "node-kit", "runtime-core", "cni"],
  "cri-http": ["cri-types", "cri-messages", "node-kit"],
  "cri-grpc": ["cri-types", "cri-messages", "node-kit"],
};
const ALL = [...Object.keys(ALLOWED), "cli"];

let scratch: string;

async function lint(
  pkg: string,
  imported: string,
  file = "probe.ts",
): Promise<{ code: number; out: string }> {
  const path = join(scratch, "packages", pkg, "src", file);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `import * as probe from "@servin/${imported}";\nexport const used = probe;\n`);
  try {
    const { stdout, stderr } = await execFileP(biome, ["lint", "--max-diagnostics=5", path], {
      cwd: scratch,
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  } finally {
    await rm(path, { force: true });
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "servin-boundaries-"));
  const config = JSON.parse(await readFile(join(repo, "biome.json"), "utf8"));
  // The scratch tree is no git checkout: lint the files we write, with the same rules and overrides.
  delete config.vcs;
  delete config.$schema;
  await writeFile(join(scratch, "biome.json"), JSON.stringify(config));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("import boundaries (biome noRestrictedImports)", () => {
  it("covers every package under packages/ that has sources", async () => {
    const { readdir } = await import("node:fs/promises");
    const packages = (await readdir(join(repo, "packages"), { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    for (const pkg of packages) expect(ALL, `packages/${pkg} has no layering rule`).toContain(pkg);
  });

  for (const [pkg, allowed] of Object.entries(ALLOWED)) {
    const forbidden = ALL.filter((p) => p !== pkg && !allowed.includes(p));
    it(`${pkg}: an upward import fails lint, an allowed one passes`, async () => {
      for (const target of forbidden) {
        const r = await lint(pkg, target);
        expect(r.code, `${pkg} importing @servin/${target} should be rejected`).not.toBe(0);
        expect(r.out).toContain("noRestrictedImports");
        expect(r.out).toContain(`${pkg} may import only`);
      }
      for (const target of allowed) {
        const r = await lint(pkg, target);
        expect(r.code, `${pkg} importing @servin/${target} should pass:\n${r.out}`).toBe(0);
      }
    });
  }

  it("tests beside the sources may use dev dependencies (a harness is no layer)", async () => {
    const r = await lint("cri-http", "runtime-core", "probe.test.ts");
    expect(r.code, r.out).toBe(0);
  });
});
