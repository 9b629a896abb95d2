/**
 * "Can another user reach it?": an unprivileged user (nobody, through setpriv) tries to list, execute,
 * read and write each of a list of paths, for the tests that the stores and state dirs are root's alone.
 */
import { spawnSync } from "node:child_process";
import { lstatSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const NOBODY = 65534;

/**
 * Runs as nobody over a list of paths and prints what it managed: LIST (a directory), EXEC (with the
 * program's output), READ, RDWR. FIFOs are opened read-write, which never blocks on Linux.
 */
const PROBE = `
while IFS= read -r p; do
  if [ -d "$p" ]; then ls "$p" >/dev/null 2>&1 && echo "LIST $p"; continue; fi
  out=$(timeout 5 "$p" 2>/dev/null) && echo "EXEC $p $out"
  if [ ! -p "$p" ]; then timeout 5 sh -c 'exec 3<"$1"' _ "$p" 2>/dev/null && echo "READ $p"; fi
  timeout 5 sh -c 'exec 3<>"$1"' _ "$p" 2>/dev/null && echo "RDWR $p"
done < "$1"
`;

/** Root, with setpriv and timeout on the PATH: what probeAsNobody needs. */
export function canProbeAsNobody(): boolean {
  return (
    process.getuid?.() === 0 && ["setpriv", "timeout"].every((b) => spawnSync("which", [b]).status === 0)
  );
}

/**
 * Every path under `dir` as root sees it (lstat, not following symlinks), directories included;
 * symlinks themselves are listed unless `symlinks` is false.
 */
export function walkPaths(dir: string, opts: { symlinks?: boolean } = {}): string[] {
  const out: string[] = [dir];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...walkPaths(p, opts));
    else if (opts.symlinks !== false || !st.isSymbolicLink()) out.push(p);
  }
  return out;
}

/**
 * What nobody manages to do with each of `paths` (lines like `READ /path`), none for a path it cannot
 * use. The probe script and the path list are written into `workDir`, which nobody must be able to read.
 */
export function probeAsNobody(workDir: string, paths: string[]): string[] {
  const script = join(workDir, "probe.sh");
  writeFileSync(script, PROBE, { mode: 0o755 });
  const list = join(workDir, `paths-${Math.random().toString(36).slice(2)}`);
  writeFileSync(list, `${paths.join("\n")}\n`, { mode: 0o644 });
  const r = spawnSync(
    "setpriv",
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "sh", script, list],
    { encoding: "utf8", timeout: 120_000 },
  );
  if (r.error) throw r.error;
  return r.stdout.split("\n").filter(Boolean);
}
