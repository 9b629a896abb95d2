/**
 * docs/architecture.md describes the code as it is: its layering table must be the rule biome.json
 * enforces, and its RPC table must list every RPC of the registry with its gRPC methods and HTTP paths.
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RPC_NAMES, RPCS } from "../../packages/cri-messages/src/index.js";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The rows of the markdown table whose header row starts with `| <firstHeader>`. */
function tableRows(doc: string, firstHeader: string): string[][] {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^\\|\\s*${firstHeader}\\s*\\|`).test(l));
  if (start < 0) throw new Error(`docs/architecture.md has no table headed "${firstHeader}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split("|")
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

/** `a`, `b` (extra words) → ["a", "b"]: the code spans of a cell. */
function spans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** "cri-types, node-kit" or "—" → the package names. */
function packages(cell: string): string[] {
  return cell === "—" ? [] : cell.split(",").map((p) => p.trim());
}

describe("docs/architecture.md", async () => {
  const doc = await readFile(join(repo, "docs/architecture.md"), "utf8");

  it("states the layering rule biome.json enforces, package by package", async () => {
    const biome = JSON.parse(await readFile(join(repo, "biome.json"), "utf8"));
    const enforced: Record<string, string[]> = {};
    for (const override of biome.overrides ?? []) {
      const pkg = /^packages\/([^/]+)\/src\/\*\*$/.exec(override.includes?.[0] ?? "")?.[1];
      const patterns = override.linter?.rules?.style?.noRestrictedImports?.options?.patterns;
      if (!pkg || !patterns) continue;
      enforced[pkg] = (patterns[0].group as string[])
        .filter((g) => /^!@servin\/[^/*]+$/.test(g))
        .map((g) => g.slice("!@servin/".length));
    }
    const documented: Record<string, string[]> = {};
    for (const [name, allowed] of tableRows(doc, "package\\s*\\|\\s*may import")) {
      documented[spans(name!)[0]!] = packages(allowed!);
    }
    expect(documented).toEqual(enforced);
  });

  it("lists every RPC of the registry with its gRPC methods and HTTP paths", () => {
    const rows = tableRows(doc, "RPC");
    expect(rows.map((r) => r[0])).toEqual([...RPC_NAMES]);
    for (const [rpc, grpc, http] of rows) {
      const spec = RPCS[rpc as (typeof RPC_NAMES)[number]];
      expect(spans(grpc!), `${rpc}: gRPC methods`).toEqual([
        spec.grpc,
        ...(spec.listStream ? [spec.listStream.grpc] : []),
      ]);
      expect(spans(http!), `${rpc}: HTTP paths`).toEqual([...spec.http]);
    }
  });

  it("names only files that exist", async () => {
    const { access } = await import("node:fs/promises");
    for (const [rpc, , , service, backend] of tableRows(doc, "RPC")) {
      const named = [...spans(backend!), ...spans(service!)].filter((p) => p.endsWith(".ts"));
      // Short forms (`container/stop.ts`, `_pull.ts`) are in the package the row names first.
      const pkg = named.find((p) => p.includes("/src/"))!.split("/src/")[0]!;
      for (const path of named) {
        const full = join(repo, "packages", path.includes("/src/") ? path : `${pkg}/src/${path}`);
        await expect(access(full), `${rpc}: ${path}`).resolves.toBeUndefined();
      }
    }
  });
});
