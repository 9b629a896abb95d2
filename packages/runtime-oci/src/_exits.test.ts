import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createExitWatcher, type ExitRecord } from "./_exits.js";

const dir = mkdtempSync(join(tmpdir(), "servin-oci-exits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const id = (c: string) => c.repeat(64);
/** conmon's way: a temp file renamed into place. */
const writeExit = (name: string, code: number) => {
  writeFileSync(join(dir, `.${name}.tmp`), String(code));
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
};

describe("exit watcher", () => {
  it("reports each new exit file once, and wait() resolves with it", async () => {
    writeExit(id("a"), 1); // present before start: not re-reported
    const w = await createExitWatcher(dir);
    const seen: ExitRecord[] = [];
    w.on((e) => seen.push(e));
    const waiting = w.wait(id("b"), 10_000);
    writeExit(id("b"), 137);
    const got = await waiting;
    expect(got).toMatchObject({ id: id("b"), exitCode: 137 });
    expect(got?.finishedAt).toBeGreaterThan(0n);
    for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((e) => e.id)).toEqual([id("b")]);
    expect(await w.read(id("a"))).toMatchObject({ exitCode: 1 });
    expect(await w.wait(id("c"), 50)).toBeUndefined();
    w.close();
  });
});
