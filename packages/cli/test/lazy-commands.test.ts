/**
 * The servin command tree loads a command's module only when that command runs or shows its help:
 * `--version` and `--help` load nothing but the tree itself (no transport, backend or runtime).
 * Each case runs the CLI from source in a child process and records every module it resolves.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { VERSION } from "../src/version.js";

const SRC = resolve(import.meta.dirname, "../src");
const MAIN = pathToFileURL(join(SRC, "main.ts")).href;
const LOG = pathToFileURL(join(import.meta.dirname, "_module-log.mjs")).href;

async function servin(args: string[]): Promise<{ code: number | null; stdout: string; loaded: string[] }> {
  const child = spawn(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      "--import",
      LOG,
      "--input-type=module",
      "-e",
      `const { runServin } = await import(${JSON.stringify(MAIN)}); await runServin(${JSON.stringify(args)});`,
    ],
    { env: { ...process.env, NO_COLOR: "1" }, cwd: resolve(import.meta.dirname, "..") },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((done) => child.on("close", done));
  const loaded = stderr
    .split("\n")
    .filter((l) => l.startsWith("load "))
    .map((l) => l.slice(5));
  const errors = stderr
    .split("\n")
    .filter((l) => l && !l.startsWith("load "))
    .join("\n");
  return { code, stdout: stdout + errors, loaded };
}

/** The modules of the CLI's own sources that were loaded, as paths under src/. */
const ownModules = (loaded: string[]) =>
  loaded
    .filter((u) => u.startsWith(pathToFileURL(SRC).href))
    .map((u) => u.slice(pathToFileURL(SRC).href.length + 1))
    .sort();
const HEAVY = [
  "@grpc/grpc-js",
  "/cri-grpc/",
  "/cri-http/",
  "/cri-messages/",
  "/runtime-core/",
  "/runtime-oci/",
  "/image-store/",
  "prom-client",
  "/hono/",
];
const heavy = (loaded: string[]) => loaded.filter((u) => HEAVY.some((h) => u.includes(h)));

describe("lazy command tree", () => {
  it("`--version` prints the version and loads only the tree", async () => {
    const r = await servin(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${VERSION}\n`);
    expect(ownModules(r.loaded)).toEqual(["_broken-pipe.ts", "_lazy-command.ts", "main.ts", "version.ts"]);
    expect(heavy(r.loaded)).toEqual([]);
    expect(r.loaded.some((u) => u.includes("/consola/"))).toBe(false);
  });

  it("`--help` lists every command with its description and loads none of them", async () => {
    const r = await servin(["--help"]);
    expect(r.code).toBe(0);
    for (const name of [
      "cri",
      "version",
      "pull",
      "images",
      "rmi",
      "image",
      "pods",
      "ps",
      "logs",
      "exec",
      "run",
    ])
      expect(r.stdout).toMatch(new RegExp(`^ +${name}  `, "m"));
    expect(r.stdout).toContain("List containers (running only, unless --all)");
    expect(ownModules(r.loaded)).toEqual(["_broken-pipe.ts", "_lazy-command.ts", "main.ts", "version.ts"]);
    expect(heavy(r.loaded)).toEqual([]);
  });

  it("`cri --help` and `image --help` list their sub-commands without loading them", async () => {
    const cri = await servin(["cri", "--help"]);
    expect(cri.stdout).toContain("Start the CRI server (HTTP/JSON and gRPC)");
    expect(cri.stdout).toMatch(/^ +test {2}/m);
    const image = await servin(["image", "--help"]);
    expect(image.stdout).toMatch(/^ +import {2}/m);
    expect(image.stdout).toMatch(/^ +ls +List images/m);
    for (const r of [cri, image]) {
      expect(r.code).toBe(0);
      expect(ownModules(r.loaded)).toEqual(["_broken-pipe.ts", "_lazy-command.ts", "main.ts", "version.ts"]);
    }
  });

  it("`ps --help` loads the container commands and the HTTP client, never the daemon's modules", async () => {
    const r = await servin(["ps", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("List containers (running only, unless --all)");
    expect(r.stdout).toMatch(/-a, --all/);
    expect(ownModules(r.loaded)).toContain("commands/containers.ts");
    expect(ownModules(r.loaded)).not.toContain("commands/images.ts");
    expect(ownModules(r.loaded).filter((m) => m.startsWith("daemon/"))).toEqual([]);
    for (const pkg of ["@grpc/grpc-js", "/cri-grpc/", "/runtime-oci/", "/runtime-core/", "/image-store/"])
      expect(r.loaded.filter((u) => u.includes(pkg))).toEqual([]);
  });

  it("answers an unknown command and a group without a sub-command with an error and exit code 1", async () => {
    const unknown = await servin(["frobnicate"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toMatch(/unknown command "frobnicate"/);
    const group = await servin(["cri"]);
    expect(group.code).toBe(1);
    expect(group.stdout).toMatch(/No command specified/);
  });

  it("runs a lazy command with its parsed arguments (a bad flag value is its error)", async () => {
    const r = await servin(["stop", "abc", "--timeout", "soon", "--port", "1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`--timeout: expected whole seconds, got "soon"`);
  });
});
