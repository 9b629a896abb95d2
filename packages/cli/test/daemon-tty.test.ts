/**
 * The daemon's log on a terminal (node-pty): glyphs and colours there, and only there; NO_COLOR turns
 * them off on a terminal too. (Piped output is checked against the built binary in
 * apps/servin/test/daemon-logs-e2e.test.ts.)
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as pty from "node-pty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MAIN = pathToFileURL(join(resolve(import.meta.dirname, "../src"), "main.ts")).href;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-tty-"));
  await writeFile(join(dir, "none.toml"), "");
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** `servin cri start` (memory backends) in a terminal until it says where it listens; answers what it printed. */
function startInTerminal(env: Record<string, string>): Promise<string> {
  const args = [
    "cri",
    "start",
    "--port",
    "0",
    "--backend",
    "memory",
    "--image-backend",
    "memory",
    "--no-grpc",
    "--root",
    join(dir, "data"),
    "--state-dir",
    join(dir, "run"),
    "--config",
    join(dir, "none.toml"),
  ];
  const { NO_COLOR: _a, FORCE_COLOR: _b, ...base } = process.env;
  const term = pty.spawn(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `const { runServin } = await import(${JSON.stringify(MAIN)}); await runServin(${JSON.stringify(args)});`,
    ],
    {
      cols: 200,
      rows: 30,
      cwd: resolve(import.meta.dirname, ".."),
      env: { ...base, TERM: "xterm", ...env } as Record<string, string>,
    },
  );
  return new Promise((done, fail) => {
    let out = "";
    const timer = setTimeout(() => {
      term.kill("SIGKILL");
      fail(new Error(`no "listening on" within 60 s:\n${out}`));
    }, 60_000);
    term.onData((d) => {
      out += d;
      if (/listening on http/.test(out)) {
        clearTimeout(timer);
        term.onExit(() => done(out));
        term.kill("SIGTERM");
      }
    });
  });
}

describe("servin cri start on a terminal", () => {
  it("decorates its lines with a glyph and colours", async () => {
    const out = await startInTerminal({});
    expect(out).toContain("ℹ");
    expect(out).toContain("\u001b[36m");
  }, 70_000);

  it("stays plain with NO_COLOR", async () => {
    const out = await startInTerminal({ NO_COLOR: "1" });
    expect(out).toMatch(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}/);
    expect(out).not.toContain("\u001b[");
    expect(out).not.toMatch(/[✔ℹ⚠✖⚙]/u);
  }, 70_000);
});
