/**
 * A container's rootfs goes when the container exits (containerd unmounts at task exit too): conmon
 * runs umount as its exit command, so RemoveContainer's cleanup finds nothing mounted and the server
 * forks no umount of its own.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inFreshPod } from "./fixtures/fresh-pod.js";
import { canRunReal } from "./fixtures/harness.js";

const real = canRunReal();

const mounted = (path: string) => readFileSync("/proc/self/mountinfo", "utf8").includes(` ${path} `);

/** Polls until `path` is no longer a mount point (true), or gives up after `ms` (false). */
async function unmountedWithin(path: string, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 20) {
    if (!mounted(path)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !mounted(path);
}

describe.skipIf(!real.ok)("oci backend: the rootfs is unmounted at exit (real runc + conmon)", () => {
  it("mounted while running; unmounted by conmon once stopped, before any remove; remove leaves nothing", async () => {
    await inFreshPod(async (h, pod, record) => {
      record.backendState = (await h.backend.createContainer(record, pod)).backendState;
      const started = await h.backend.startContainer(record, pod);
      if (started.backendState) record.backendState = started.backendState;
      const rootfs = join(h.stateDir, "bundles", record.id, "rootfs");
      expect(mounted(rootfs)).toBe(true);
      expect(await h.backend.stopContainer(record, 0)).toMatchObject({ exitCode: 137 });
      expect(await unmountedWithin(rootfs, 10_000)).toBe(true);
      await h.backend.removeContainer(record, pod);
      return h.backend;
    });
  }, 30_000);

  it("a container whose process ends by itself is unmounted too", async () => {
    await inFreshPod(async (h, pod, record) => {
      const quick = { ...record, config: { ...record.config, command: ["true"] } };
      quick.backendState = (await h.backend.createContainer(quick, pod)).backendState;
      const started = await h.backend.startContainer(quick, pod);
      if (started.backendState) quick.backendState = started.backendState;
      expect(await unmountedWithin(join(h.stateDir, "bundles", quick.id, "rootfs"), 10_000)).toBe(true);
      expect(await h.backend.inspectContainer(quick)).toMatchObject({
        state: "exited",
        exit: { exitCode: 0 },
      });
      await h.backend.removeContainer(quick, pod);
      return h.backend;
    });
  }, 30_000);
});
