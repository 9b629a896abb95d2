/**
 * vitest global setup. The real-parts suites skip themselves on machines
 * without root, runc or the registry tools, so a developer's laptop stays
 * green; in CI that would hide a missing install step behind a green run.
 * With SERVIN_REQUIRE_REAL=1 (set by .ci/run) a missing part fails the run.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const PARTS: Array<[string, string]> = [
  ["runc", "runc"],
  ["crun", "crun"],
  ["conmon", "conmon"],
  ["catatonit", "catatonit"],
  ["busybox", "busybox-static"],
  ["docker-registry", "docker-registry"],
  ["skopeo", "skopeo"],
  ["umoci", "umoci"],
  ["htpasswd", "apache2-utils"],
];

function which(command: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export default function setup(): void {
  if (process.env.SERVIN_REQUIRE_REAL !== "1") return;
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push("not running as root");
  for (const [command, pkg] of PARTS)
    if (!which(command)) problems.push(`${command} not found (Debian package ${pkg})`);
  if (!existsSync("/bin/busybox")) problems.push("/bin/busybox missing (Debian package busybox-static)");
  if (problems.length > 0) {
    throw new Error(
      `SERVIN_REQUIRE_REAL=1 but the real parts are missing: ${problems.join("; ")}. Run tooling/install.sh.`,
    );
  }
}
