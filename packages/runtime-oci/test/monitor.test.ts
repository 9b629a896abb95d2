/** The conmon monitor's failure path (real conmon, a FAKE runtime that never finishes `create`). */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createConmonMonitor } from "../src/monitor.js";
import type { OciRuntime } from "../src/oci-runtime.js";
import { canRunReal, newId } from "./fixtures/harness.js";

const real = canRunReal();

/** A live (non-zombie) process? */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "");
  } catch {
    return false;
  }
};
const readPidFile = (p: string) => (existsSync(p) ? Number(readFileSync(p, "utf8").trim()) : 0);

describe.skipIf(!real.ok)("conmon monitor: create that never reports a pid (real conmon)", () => {
  const dir = mkdtempSync(join(tmpdir(), "servin-oci-monitor-"));
  const started: number[] = [];
  afterAll(() => {
    // Only matters when the code under test leaked them.
    for (const pid of started) if (alive(pid)) execFileSync("kill", ["-9", String(pid)]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("kills conmon and the runtime under it before failing, so a later delete cannot race a late create", async () => {
    // FAKE runtime: records its pid, then hangs in `create` forever.
    const fake = join(dir, "fake-slow-runtime");
    const fakePid = join(dir, "fake.pid");
    writeFileSync(fake, `#!/bin/sh\necho $$ > ${fakePid}\nexec sleep 600\n`);
    chmodSync(fake, 0o755);
    const bundle = join(dir, "bundle");
    for (const d of [bundle, join(dir, "exits"), join(dir, "sockets")]) mkdirSync(d, { recursive: true });
    const runtime = { name: "fake-slow", path: fake, root: join(dir, "root") } as OciRuntime;
    const monitor = createConmonMonitor({ path: "/usr/bin/conmon", syncTimeoutMs: 1_500 });
    const conmonPidFile = join(bundle, "conmon.pid");
    const creating = monitor.create({
      id: newId(),
      name: "slow",
      bundle,
      runtime,
      logPath: "",
      exitDir: join(dir, "exits"),
      pidFile: join(bundle, "pid"),
      conmonPidFile,
      socketDir: join(dir, "sockets"),
      terminal: false,
      stdin: false,
    });
    await expect(creating).rejects.toMatchObject({
      code: "Internal",
      message: /did not report the container pid/,
    });
    const conmon = readPidFile(conmonPidFile);
    const runtimePid = readPidFile(fakePid);
    started.push(conmon, runtimePid);
    expect(conmon).toBeGreaterThan(0);
    expect(runtimePid).toBeGreaterThan(0);
    // Gone by the time the promise rejected — no waiting here.
    expect(alive(conmon)).toBe(false);
    expect(alive(runtimePid)).toBe(false);
  });
});
