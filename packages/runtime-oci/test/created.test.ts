/**
 * CreateContainer makes no process (containerd's split): conmon, `runc create` and the rootfs mount
 * come at StartContainer. A created container is its record and bundle only — status, stop, remove
 * and a restart in between all work without a runtime call — and bad input still fails at create.
 */
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inFreshPod } from "./fixtures/fresh-pod.js";
import { canRunReal, createHarness, destroyHarnessDirs, leaks } from "./fixtures/harness.js";
import { openRuntimeService, traces } from "./fixtures/runc-wrapper.js";

const real = canRunReal();

describe.skipIf(!real.ok)(
  "oci backend: a created container has no processes until it starts (real runc + conmon)",
  () => {
    it("creates without conmon, runc or mounts; stays created across a restart; then starts, stops and goes", async () => {
      await inFreshPod(async (h, pod, record) => {
        record.backendState = (await h.backend.createContainer(record, pod)).backendState;
        expect(record.backendState.pid).toBeUndefined();
        // Only its bundle (config.json): no process, no runc state, no mount, no cgroup, no writable layer yet.
        expect(traces(h, record.id)).toEqual([`file: ${join(h.stateDir, "bundles", record.id)}`]);
        expect(await h.backend.inspectContainer(record)).toEqual({ state: "created" });
        expect(await h.backend.stopContainer(record, 10)).toBeUndefined();

        const backend = await h.reopen();
        expect(await backend.inspectContainer(record)).toEqual({ state: "created" });
        const started = await backend.startContainer(record, pod);
        if (started.backendState) record.backendState = started.backendState;
        expect(record.backendState.pid).toBeGreaterThan(0);
        expect(await backend.inspectContainer(record)).toMatchObject({ state: "running" });
        const r = await backend.execSync(record, ["cat", "/etc/hostname"], 10);
        expect(r.exitCode).toBe(0);
        expect(await backend.stopContainer(record, 0)).toMatchObject({ exitCode: 137, reason: "Error" });
        await backend.removeContainer(record, pod);
        return backend;
      });
    }, 30_000);

    it("removes a container that never started, leaving nothing behind", async () => {
      await inFreshPod(async (h, pod, record) => {
        record.backendState = (await h.backend.createContainer(record, pod)).backendState;
        await h.backend.removeContainer(record, pod);
        await h.backend.removeContainer(record, pod); // idempotent
        return h.backend;
      });
    }, 20_000);

    it("fails at create, leaving nothing, for input that cannot work: an unknown user, a missing device", async () => {
      await inFreshPod(async (h, pod, record) => {
        const user = {
          ...record,
          config: { ...record.config, linux: { securityContext: { runAsUsername: "nosuchuser" } } },
        };
        await expect(h.backend.createContainer(user, pod)).rejects.toThrow(/nosuchuser/);
        const device = {
          ...record,
          config: {
            ...record.config,
            devices: [{ hostPath: "/dev/nosuchdevice", containerPath: "/dev/x", permissions: "rwm" }],
          },
        };
        await expect(h.backend.createContainer(device, pod)).rejects.toMatchObject({
          code: "InvalidArgument",
          message: expect.stringContaining('"/dev/nosuchdevice" not found'),
        });
        expect(traces(h, record.id)).toEqual([]);
        return h.backend;
      });
    }, 20_000);

    it("through runtime-core: CONTAINER_CREATED until started, ExecSync refused with FailedPrecondition", async () => {
      const h = await createHarness();
      try {
        await h.backend.close();
        const runtime = await openRuntimeService(h, "/usr/sbin/runc", mkdtempSync(join(h.dir, "store-")));
        const { podSandboxId } = await runtime.runPodSandbox({
          config: { metadata: { name: "created", namespace: "t", uid: "u-created" }, hostname: "created" },
        });
        const config = { metadata: { name: "c" }, image: { image: h.image.ref }, command: ["sleep", "3600"] };
        const { containerId } = await runtime.createContainer({ podSandboxId, config });
        expect((await runtime.containerStatus({ containerId })).status?.state).toBe("CONTAINER_CREATED");
        await expect(runtime.execSync({ containerId, cmd: ["true"], timeout: 5 })).rejects.toMatchObject({
          code: "FailedPrecondition",
          message: expect.stringContaining("CONTAINER_CREATED"),
        });
        await runtime.stopContainer({ containerId, timeout: 0 }); // a no-op for a created container
        expect((await runtime.containerStatus({ containerId })).status?.state).toBe("CONTAINER_CREATED");
        await runtime.startContainer({ containerId });
        expect((await runtime.containerStatus({ containerId })).status?.state).toBe("CONTAINER_RUNNING");
        const r = await runtime.execSync({ containerId, cmd: ["echo", "ok"], timeout: 10 });
        expect(Buffer.from(r.stdout).toString()).toBe("ok\n");
        await runtime.removeContainer({ containerId });
        // The name is free at once, while the old container's cleanup may still run.
        const again = await runtime.createContainer({ podSandboxId, config });
        expect(again.containerId).not.toBe(containerId);
        await runtime.removeContainer({ containerId: again.containerId });
        await runtime.stopPodSandbox({ podSandboxId });
        await runtime.removePodSandbox({ podSandboxId });
        await runtime.close();
        expect(await leaks(h)).toEqual([]);
      } finally {
        destroyHarnessDirs(h);
      }
    }, 40_000);
  },
);
