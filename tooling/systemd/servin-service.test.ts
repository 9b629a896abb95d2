/**
 * tooling/systemd/servin.service: systemd accepts the unit (`systemd-analyze verify`, with ExecStart
 * pointed at the built binary), and every flag it passes is one that `servin cri start` accepts.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const here = import.meta.dirname;
const unit = readFileSync(join(here, "servin.service"), "utf8");
const binary = join(here, "..", "..", "apps", "servin", "dist", "servin.js");
const hasAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].some((p) => existsSync(p));

const execStart = /^ExecStart=(\S+)\s+(.*)$/m.exec(unit);

describe("servin.service", () => {
  it("starts /usr/local/bin/servin cri start, signals only servin, and survives a crash", () => {
    expect(execStart?.[1]).toBe("/usr/local/bin/servin");
    expect(execStart?.[2]).toMatch(/^cri start\b/);
    expect(unit).toMatch(/^KillMode=process$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^Delegate=yes$/m);
  });

  it.skipIf(!existsSync(binary))("passes only flags that `servin cri start` accepts", async () => {
    const { stdout } = await run(process.execPath, [binary, "cri", "start", "--help"]);
    const flags = (execStart?.[2] ?? "").split(/\s+/).filter((w) => w.startsWith("--"));
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) expect(stdout, flag).toContain(flag);
  });

  it.skipIf(!hasAnalyze || !existsSync(binary))("is accepted by systemd-analyze verify", async () => {
    const dir = mkdtempSync(join(tmpdir(), "servin-unit-"));
    try {
      const file = join(dir, "servin.service");
      writeFileSync(file, unit.replace("/usr/local/bin/servin", binary));
      const result = await run("systemd-analyze", ["verify", file]).then(
        ({ stderr }) => ({ ok: true, stderr }),
        (err: { stderr?: string }) => ({ ok: false, stderr: err.stderr ?? String(err) }),
      );
      expect(result.ok, result.stderr).toBe(true);
      // verify warns about but still accepts misspelt keys; none may be reported.
      expect(result.stderr).not.toMatch(/Unknown key|Unknown section|bad unit file/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
