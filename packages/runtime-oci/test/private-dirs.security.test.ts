/**
 * No local root through container directories (issue 14 #1): writable layers,
 * mounted rootfses and bundles hold files with their own modes (a setuid
 * binary from the image, one a root container wrote), so no other user may
 * reach any path under the data and state roots. A container running as uid
 * 1000 still works; loosened directories are repaired at start-up.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, lstatSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { canProbeAsNobody, probeAsNobody, walkPaths } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOciBackend } from "../src/index.js";
import {
  canRunReal,
  containerRecord,
  createAndStart,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  runPod,
  sandboxRecord,
} from "./fixtures/harness.js";

const real = canRunReal();
const canDrop = real.ok && canProbeAsNobody();
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe.skipIf(!canDrop)("container dirs are root's alone (real runc + conmon)", () => {
  let h: Harness;
  const pods: SandboxRecord[] = [];
  const containers: ContainerRecord[] = [];
  let byUser: ContainerRecord;

  beforeAll(async () => {
    h = await createHarness();
    // The roots' parent is world-traversable here, like /var/lib and /run: only servin's modes protect them.
    chmodSync(h.dir, 0o755);
    chmodSync(join(h.dir, "image"), 0o700); // the fixture image stands in for the image store (0700)
    const suidLayer = join(h.dir, "image", "suid-layer");
    mkdirSync(suidLayer);
    copyFileSync("/usr/bin/id", join(suidLayer, "suid-id"));
    chmodSync(join(suidLayer, "suid-id"), 0o4755);
    const image = { ...h.image, layers: [...h.image.layers, suidLayer] };
    const s = await runPod(h.backend, sandboxRecord({}));
    pods.push(s);
    byUser = containerRecord(s, image, {
      command: ["sleep", "3600"],
      linux: { securityContext: { runAsUser: { value: 1000 } } },
    });
    containers.push(byUser);
    await createAndStart(h.backend, byUser, s);
    // A root container that writes its own setuid-root binary into its writable layer.
    const writer = containerRecord(s, image, { command: ["sleep", "3600"] });
    containers.push(writer);
    await createAndStart(h.backend, writer, s);
    const r = await h.backend.execSync(
      writer,
      ["sh", "-c", "cp /suid-id /made-suid && chmod 4755 /made-suid"],
      10,
    );
    expect(r.exitCode).toBe(0);
  }, 60_000);

  afterAll(async () => {
    if (!h) return;
    for (const c of containers) await h.backend.removeContainer(c, undefined).catch(() => {});
    for (const s of pods) await h.backend.removeSandbox(s).catch(() => {});
    await h.backend.close();
    destroyHarnessDirs(h);
  });

  const probe = (paths: string[]): string[] => probeAsNobody(h.dir, paths);
  // Symlinks resolve through the same directories: their targets are walked (or are outside the roots).
  const everything = () => [
    ...walkPaths(h.root, { symlinks: false }),
    ...walkPaths(h.stateDir, { symlinks: false }),
  ];
  const madeSuid = () => everything().filter((p) => p.endsWith("/made-suid") || p.endsWith("/suid-id"));

  it("runs a container as uid 1000 from layers and bundles only root can reach", async () => {
    expect(text((await h.backend.execSync(byUser, ["id", "-u"], 10)).stdout)).toBe("1000\n");
    // The image's setuid file is there for the container (the host's id is dynamic: only its mode is checked).
    expect(text((await h.backend.execSync(byUser, ["stat", "-c", "%a", "/suid-id"], 10)).stdout)).toBe(
      "4755\n",
    );
    for (const d of ["containers", "sandboxes"])
      expect((lstatSync(join(h.root, d)).mode & 0o777).toString(8)).toBe("700");
    for (const d of ["bundles", "sandboxes", "runtime", "exits", "sandbox-exits", "sockets"])
      expect((lstatSync(join(h.stateDir, d)).mode & 0o777).toString(8)).toBe("700");
  });

  it("lets an unprivileged user reach no file under the data and state roots", () => {
    // The walk reaches the image's setuid file through the mounted rootfses and the container's own one in its upper dir.
    expect(madeSuid().length).toBeGreaterThanOrEqual(3);
    expect(probe(everything())).toEqual([]);
  });

  it("repairs loosened directories at start-up; before that, the probe gets euid=0", async () => {
    chmodSync(join(h.root, "containers"), 0o755);
    chmodSync(join(h.stateDir, "bundles"), 0o755);
    const loose = probe(madeSuid());
    const nosuid = /\bnosuid\b/.test(execFileSync("findmnt", ["-no", "OPTIONS", "-T", h.dir]).toString());
    if (!nosuid) expect(loose).toContainEqual(expect.stringMatching(/^EXEC .*\/made-suid .*euid=0\(root\)/));
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (m: string) => warnings.push(m) };
    await h.backend.close();
    h.backend = await createOciBackend({
      root: h.root,
      stateDir: h.stateDir,
      cgroupParent: h.cgroupParent,
      logger,
    });
    expect(warnings).toContain(
      `${join(h.root, "containers")} was mode 0755, readable or traversable by other users: repaired to 0700`,
    );
    expect(warnings).toContain(
      `${join(h.stateDir, "bundles")} was mode 0755, readable or traversable by other users: repaired to 0700`,
    );
    expect(probe(everything())).toEqual([]);
    expect(text((await h.backend.execSync(byUser, ["id", "-u"], 10)).stdout)).toBe("1000\n");
  });
});
