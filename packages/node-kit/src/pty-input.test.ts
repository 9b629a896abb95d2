import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pty from "node-pty";
import { afterAll, describe, expect, it } from "vitest";
import { ptyInput } from "./pty-input.js";

// REAL terminals: node-pty spawns sh under a pseudo-terminal of this host.
const dir = mkdtempSync(join(tmpdir(), "pty-input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A shell on a raw, silent terminal (bytes pass as they are, no echo), running `script`. */
function rawShell(script: string): pty.IPty {
  return pty.spawn("sh", ["-c", `stty raw -echo; ${script}`], { cols: 80, rows: 24 });
}

function exited(term: pty.IPty): Promise<number> {
  return new Promise((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
}

describe("ptyInput (real node-pty terminals)", () => {
  it("passes bytes as they are, a UTF-8 character split across two writes included", async () => {
    const out = join(dir, "bytes");
    const term = rawShell(`head -c 7 > ${out}`);
    const done = exited(term);
    await new Promise((r) => setTimeout(r, 200)); // stty has run
    const input = ptyInput(term);
    const e = Buffer.from("é", "utf8");
    input.write(Buffer.from("ab"));
    input.write(e.subarray(0, 1));
    input.write(Buffer.concat([e.subarray(1), Buffer.from("cde")]));
    expect(await done).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("abécde");
  });

  it("queues what a full terminal cannot take, reports back-pressure, drains in order", async () => {
    const out = join(dir, "drained");
    const size = 1 << 20;
    const term = rawShell(`sleep 0.5; head -c ${size} > ${out}`);
    const done = exited(term);
    await new Promise((r) => setTimeout(r, 200));
    let drained = 0;
    const input = ptyInput(term, { onDrain: () => drained++ });
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = 97 + (i % 26);
    expect(input.write(data)).toBe(false); // the terminal holds some KiB, the rest waits
    expect(await done).toBe(0);
    expect(drained).toBe(1);
    expect(readFileSync(out).equals(data)).toBe(true);
  });

  it("drops what is still queued when the terminal closes: none of it reaches the file that takes its fd number", async () => {
    const term = rawShell("sleep 100");
    await new Promise((r) => setTimeout(r, 200));
    const input = ptyInput(term);
    expect(input.write(Buffer.alloc(1 << 20, "s"))).toBe(false);
    const done = exited(term);
    // destroy() closes the fd at once, on this thread: the next open() takes its number (the lowest free one)
    (term as unknown as { destroy(): void }).destroy(); // UnixTerminal has it; IPty does not declare it
    const victimPath = join(dir, "victim");
    const victim = openSync(victimPath, "w");
    expect(victim).toBe((term as unknown as { fd: number }).fd);
    input.write("typed after the end\n");
    await done;
    await new Promise((r) => setTimeout(r, 100)); // ten retry periods
    closeSync(victim);
    expect(readFileSync(victimPath).length).toBe(0);
    expect(input.open).toBe(false);
  });

  it("refuses an object that is not a node-pty terminal, naming what it expected", () => {
    expect(() => ptyInput({ fd: "3" })).toThrow(/node-pty 1\.1 UnixTerminal/);
  });
});
