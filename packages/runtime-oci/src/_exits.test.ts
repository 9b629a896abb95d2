import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createExitWatcher, type ExitRecord, readExitFile } from "./_exits.js";

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

  it("does not re-read exits it already reported, and forgets finished waits", async () => {
    writeExit(id("d"), 0); // reported before this watcher started
    const reads: string[] = [];
    const w = await createExitWatcher(dir, {
      rescanMs: 10,
      readExit: (d, name) => {
        reads.push(name);
        return readExitFile(d, name);
      },
    });
    const seen: string[] = [];
    w.on((e) => seen.push(e.id));
    writeExit(id("e"), 3);
    for (let i = 0; i < 200 && !seen.includes(id("e")); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([id("e")]);
    const readsOfE = reads.filter((n) => n === id("e")).length;
    expect(readsOfE).toBeGreaterThan(0);
    // Many re-scans later: neither the old exit nor the reported one was read again.
    await new Promise((r) => setTimeout(r, 150));
    expect(reads.filter((n) => n === id("d"))).toEqual([]);
    expect(reads.filter((n) => n === id("e")).length).toBe(readsOfE);
    // Someone waiting on a reported exit still gets it.
    expect(await w.wait(id("d"), 1_000)).toMatchObject({ exitCode: 0 });
    // Waits that time out or resolve leave nothing behind.
    expect(await w.wait(id("f"), 30)).toBeUndefined();
    const both = Promise.all([w.wait(id("f"), 10_000), w.wait(id("f"), 10_000)]);
    writeExit(id("f"), 9);
    expect((await both).map((e) => e?.exitCode)).toEqual([9, 9]);
    expect(w.waitingIds()).toBe(0);
    w.close();
  });

  it("drops a wait at once when its signal aborts, and later exits are still reported", async () => {
    const w = await createExitWatcher(dir);
    const seen: string[] = [];
    w.on((e) => seen.push(e.id));
    const controller = new AbortController();
    const waiting = w.wait(id("9"), 600_000, controller.signal);
    // wait() reads the file once before it registers.
    for (let i = 0; i < 200 && w.waitingIds() === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(w.waitingIds()).toBe(1);
    controller.abort();
    expect(await waiting).toBeUndefined();
    expect(w.waitingIds()).toBe(0);
    // Already aborted: no wait is registered at all.
    expect(await w.wait(id("9"), 600_000, controller.signal)).toBeUndefined();
    expect(w.waitingIds()).toBe(0);
    writeExit(id("9"), 137);
    for (let i = 0; i < 200 && !seen.includes(id("9")); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([id("9")]);
    w.close();
  });
});
