/**
 * StartContainer's rootfs without forks of its own from the daemon: the overlay mount made by conmon's
 * process before it execs conmon (its outcome handed to `ready`, the copy fallback after a failure), and the
 * cleanup's unmounts through one long-lived helper (real mounts, real conmon where one runs).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isMountPoint, removeTree, unmountAll } from "../src/_mounts.js";
import { finishRootfs, planRootfs, type RootfsOptions } from "../src/container/_rootfs.js";
import { helperUmount, unmounterPid } from "../src/container/_unmounter.js";
import { makeBusyboxImage } from "./fixtures/busybox-image.js";
import { canRunReal } from "./fixtures/harness.js";
import { mountInConmonProcess } from "./fixtures/rootfs.js";

const real = canRunReal();

describe.skipIf(!real.ok)("start: the rootfs mount in conmon's process, unmounts through a helper", () => {
  const dir = mkdtempSync(join(tmpdir(), "servin-oci-start-rootfs-"));
  const image = makeBusyboxImage(join(dir, "image"));
  afterAll(async () => {
    await removeTree(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  const options = (name: string, warnings: string[] = []): RootfsOptions => ({
    layers: image.layers,
    upper: join(dir, `${name}-upper`),
    work: join(dir, `${name}-work`),
    target: join(dir, `${name}-rootfs`),
    copyDir: join(dir, `${name}-copy`),
    id: name,
    logger: { warn: (m) => warnings.push(m) },
  });

  /** monitor.create with the rootfs mount and a conmon path that does not exist: what `ready` saw, and the error. */
  const createWithMissingConmon = async (o: RootfsOptions) => {
    const mount = await planRootfs(o);
    expect(mount).toBeDefined();
    return mountInConmonProcess(dir, o.id, mount);
  };

  it("mounts the overlay in conmon's process and reports it; a conmon that cannot run fails as spawn's error did", async () => {
    const o = options("ok");
    const { seen, err, missing, id } = await createWithMissingConmon(o);
    expect(seen).toEqual([{ code: 0, stderr: "" }]);
    expect(await isMountPoint(o.target)).toBe(true);
    expect(readFileSync(join(o.target, "etc", "layer"), "utf8")).toBe("top\n");
    expect(err).toMatchObject({
      code: "Internal",
      message: `container "${id}": cannot run conmon ${missing}: spawn ${missing} ENOENT`,
    });
    expect(await finishRootfs(o, await planRootfs(o), seen[0])).toBe("overlay");
    await unmountAll(o.target, helperUmount);
    expect(await isMountPoint(o.target)).toBe(false);
  });

  it("hands a failed mount's exit code and message to ready; the copy fallback follows, with the reason logged", async () => {
    const warnings: string[] = [];
    const o = options("fails", warnings);
    // upperdir and workdir on different mounts: overlayfs refuses.
    mkdirSync(o.work, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", o.work]);
    try {
      const { seen } = await createWithMissingConmon(o);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.code).toBeGreaterThan(0);
      expect(seen[0]?.stderr).toMatch(/mount/);
      expect(await isMountPoint(o.target)).toBe(false);
      expect(await finishRootfs(o, await planRootfs(o), seen[0])).toBe("copy");
      expect(warnings).toEqual([
        expect.stringMatching(
          /^container "fails": overlay mount failed \(.+\): copying the image layers instead$/,
        ),
      ]);
      expect(readFileSync(join(o.target, "etc", "layer"), "utf8")).toBe("top\n");
      await unmountAll(o.target, helperUmount);
      expect(await isMountPoint(o.target)).toBe(false);
    } finally {
      execFileSync("umount", [o.work]);
    }
  });

  it("unmounts stacked and concurrent mounts through one helper process, and survives the helper's death", async () => {
    const targets = ["a", "b", "c"].map((n) => join(dir, `helper-${n}`));
    for (const t of targets) {
      mkdirSync(t, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "tmpfs", t]);
      execFileSync("mount", ["-t", "tmpfs", "tmpfs", t]); // stacked: both must go
    }
    // One unmount starts the helper (or finds it from the test before); the concurrent batch reuses it.
    const first = join(dir, "helper-first");
    mkdirSync(first, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", first]);
    await unmountAll(first, helperUmount);
    const pid = unmounterPid();
    expect(pid).toBeGreaterThan(0);
    await Promise.all(targets.map((t) => unmountAll(t, helperUmount)));
    for (const t of targets) expect(await isMountPoint(t)).toBe(false);
    expect(unmounterPid()).toBe(pid);

    // Killed (it is only a helper): the next unmount still happens, through a new one.
    process.kill(pid as number, "SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
    execFileSync("mount", ["-t", "tmpfs", "tmpfs", targets[0] as string]);
    await unmountAll(targets[0] as string, helperUmount);
    expect(await isMountPoint(targets[0] as string)).toBe(false);
    expect(unmounterPid()).toEqual(expect.any(Number));
    expect(unmounterPid()).not.toBe(pid);
  });
});
