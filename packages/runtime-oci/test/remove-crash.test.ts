/**
 * RemoveContainer answers once its tombstone is durable; the cleanup runs after the answer. A
 * server killed between the two leaves the tombstone (here emptied, as a crash may leave it: only
 * its directory entry is fsynced), and the next start finishes the job:
 * no mount, no bundle or writable layer, no runc state, no cgroup, no process of the container.
 */
import type { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canRunReal, destroyHarnessDirs, type Harness, leaks, spawnFixture } from "./fixtures/harness.js";
import { openRuntimeService, traces } from "./fixtures/runc-wrapper.js";

const real = canRunReal();

describe.skipIf(!real.ok)(
  "oci backend: a crash between RemoveContainer's answer and its cleanup (real runc + conmon)",
  () => {
    it("leaves a tombstone the next start finishes: nothing of the container is left", async () => {
      const dir = mkdtempSync(join(tmpdir(), "servin-oci-rmcrash-"));
      const cgroupParent = `servin-rmcrash-${randomBytes(3).toString("hex")}`;
      const h = { dir, root: join(dir, "root"), stateDir: join(dir, "state"), cgroupParent } as Harness;
      let held: number | undefined;
      let child: ReturnType<typeof spawn> | undefined;
      try {
        const proc = spawnFixture("remove-crash-child.ts", [dir, cgroupParent]);
        child = proc;
        let out = "";
        let err = "";
        proc.stderr.on("data", (d) => {
          err += d;
        });
        const ids = await new Promise<{ podSandboxId: string; removed: string; again: string }>(
          (ok, fail) => {
            proc.stdout.on("data", (d) => {
              out += d;
              if (out.includes("\n")) ok(JSON.parse(out.split("\n")[0] as string));
            });
            proc.on("exit", (code) => fail(new Error(`remove-crash-child exited early (${code}): ${err}`)));
          },
        );
        held = Number(readFileSync(join(dir, "held"), "utf8").trim());
        const exited = new Promise((r) => proc.on("exit", r));
        proc.kill("SIGKILL");
        await exited;
        process.kill(held, "SIGKILL"); // the hung `umount` stand-in

        // Killed mid-cleanup: the tombstone and the container's leftovers are still there.
        expect(readdirSync(join(h.root, "container-removals"))).toContain(ids.removed);
        expect(traces(h, ids.removed).length).toBeGreaterThan(0);
        expect(existsSync(join(h.stateDir, "bundles", ids.removed, "rootfs"))).toBe(true);

        // Only the tombstone's directory entry is fsynced: a crash may leave it empty. It is rebuilt from the ID.
        writeFileSync(join(h.root, "container-removals", ids.removed), "");

        // The next start, with a working runc, finishes the removal in the background.
        const runtime = await openRuntimeService(h, "/usr/sbin/runc", join(dir, "store"));
        const listed = (await runtime.listContainers({})).containers.map((c) => c.id);
        expect(listed).toEqual([ids.again]);
        const tombstones = () => readdirSync(join(h.root, "container-removals"));
        for (let i = 0; i < 1500 && tombstones().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
        expect(tombstones()).toEqual([]);
        expect(traces(h, ids.removed)).toEqual([]);

        await runtime.removeContainer({ containerId: ids.again });
        await runtime.stopPodSandbox({ podSandboxId: ids.podSandboxId });
        await runtime.removePodSandbox({ podSandboxId: ids.podSandboxId });
        await runtime.close();
        expect(await leaks(h)).toEqual([]);
      } finally {
        child?.kill("SIGKILL");
        if (held) {
          try {
            process.kill(held, "SIGKILL");
          } catch {}
        }
        destroyHarnessDirs(h);
      }
    }, 90_000);
  },
);
