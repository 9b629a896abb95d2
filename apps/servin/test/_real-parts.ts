/**
 * For the end-to-end tests on real parts (root, runc, conmon, catatonit, a local registry): whether
 * they can run here, a registry serving a test image as docker.io's mirror, and the clean-up of
 * whatever a failed run of servin left on the host.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  buildTestImages,
  pushLayout,
  registryToolsAvailable,
  startRegistry,
  type TestImages,
  type TestRegistry,
} from "@servin/testkit";

const exec = promisify(execFile);

export const isRoot = process.getuid?.() === 0;

/** The oci backend's programs, where the tests expect them. */
export const RUNTIME_TOOLS = ["/usr/sbin/runc", "/usr/bin/conmon", "/usr/bin/catatonit"];

/** runc, conmon and catatonit are installed. */
export function haveRuntimeTools(): boolean {
  return RUNTIME_TOOLS.every(existsSync);
}

/** Root, with runc, conmon, catatonit, the `extra` paths and the registry tools: the oci e2e tests can run. */
export function haveRealParts(extra: string[] = []): boolean {
  return isRoot && [...RUNTIME_TOOLS, ...extra].every(existsSync) && registryToolsAvailable();
}

export interface MirrorRegistry {
  registry: TestRegistry;
  images: TestImages;
  /** `dir`/config.toml: `toml`, then the registry as docker.io's mirror. */
  config: string;
}

/**
 * Starts a local registry holding the test image `image` as docker.io's `repo` (a mirror serves
 * docker.io's namespace: docker.io/library/alpine -> <mirror>/library/alpine), writes `dir`/config.toml
 * naming it docker.io's mirror (after `toml`), and makes `dir`/logs.
 */
export async function startMirrorRegistry(
  dir: string,
  opts: { image?: "layers" | "base"; repo?: string; toml?: string } = {},
): Promise<MirrorRegistry> {
  const registry = await startRegistry();
  const images = await buildTestImages(join(dir, "layout"));
  await pushLayout(
    images.dir,
    images[opts.image ?? "layers"].tag,
    `${registry.directHost}/${opts.repo ?? "library/alpine:latest"}`,
  );
  const config = join(dir, "config.toml");
  await writeFile(config, `${opts.toml ?? ""}${mirrorToml(registry)}`);
  await mkdir(join(dir, "logs"), { recursive: true });
  return { registry, images, config };
}

/** The config section that makes `registry` docker.io's mirror. */
export function mirrorToml(registry: TestRegistry): string {
  return `[registries."docker.io"]\nmirrors = ["http://${registry.host}"]\n`;
}

/**
 * Removes what a failed run of servin (state in `stateDir`, everything under `dir`) left on the host:
 * runc containers, their conmons, mounts, and the cgroups under `cgroupParent`.
 */
export async function removeServinLeftovers(
  dir: string,
  stateDir: string,
  cgroupParent: string,
): Promise<void> {
  const root = join(stateDir, "runtime", "runc");
  if (existsSync(root)) {
    const { stdout } = await exec("/usr/sbin/runc", ["--root", root, "list", "-q"]).catch(() => ({
      stdout: "",
    }));
    for (const id of stdout.split("\n").filter(Boolean))
      await exec("/usr/sbin/runc", ["--root", root, "delete", "--force", id]).catch(() => {});
  }
  const { stdout: ps } = await exec("ps", ["-eo", "pid,args"]);
  for (const l of ps.split("\n").filter((x) => x.includes("conmon") && x.includes(stateDir))) {
    try {
      process.kill(Number(l.trim().split(/\s+/)[0]), "SIGKILL");
    } catch {}
  }
  // Pod infras started directly (no conmon, no runc): every process left in the test's own cgroups
  // (never under the shared default parent, where other servins' pods live).
  for (const pid of cgroupParent === "servin" ? [] : readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`/${cgroupParent}/`))
        process.kill(Number(pid), "SIGKILL");
    } catch {}
  }
  for (const l of readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((x) => x.includes(dir))
    .reverse())
    await exec("umount", ["-l", l.split(" ")[4]!]).catch(() => {});
  for (const ctrl of readdirSync("/sys/fs/cgroup")) {
    const d = join("/sys/fs/cgroup", ctrl, cgroupParent);
    if (existsSync(d)) await exec("find", [d, "-depth", "-type", "d", "-delete"]).catch(() => {});
  }
}
