/**
 * Cleaning up after a crash without waiting for exit files that cannot come
 * (issue 14 #4): a container whose conmon is gone never gets an exit file, so
 * removing or stopping it must not wait out the 30 s kill timeout. The test
 * timeouts (well under 30 s) are what would catch a regression.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerRecord } from "@servin/runtime-core";
import { describe, expect, it } from "vitest";
import { inFreshPod } from "./fixtures/fresh-pod.js";
import { canRunReal } from "./fixtures/harness.js";

const real = canRunReal();

/** SIGKILLs the container's conmon (as if it was lost with the server that started it) and waits until it is gone. */
async function killConmon(stateDir: string, id: string): Promise<void> {
  const pid = Number(readFileSync(join(stateDir, "bundles", id, "conmon.pid"), "utf8").trim());
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!real.ok)(
  "oci backend: recovery cleanup without waiting for exits (real runc + conmon)",
  () => {
    it("removes a half-created container whose conmon is gone at once, leaving nothing behind", async () => {
      await inFreshPod(async (h, pod, record) => {
        record.backendState = (await h.backend.createContainer(record, pod)).backendState;
        // conmon and runc's container come at start: its start ran, then conmon was lost.
        await h.backend.startContainer(record, pod);
        await killConmon(h.stateDir, record.id);
        // The core persisted the record before the create and crashed before saving its result:
        // what recovery hands back is the pending record, without backendState.
        const pending: ContainerRecord = { ...record, backendState: {} };
        const backend = await h.reopen();
        await backend.removeContainer(pending, pod);
        return backend;
      });
    }, 20_000);

    it("stops a started container whose conmon is gone without waiting for its exit file, and says the exit is unknown", async () => {
      await inFreshPod(async (h, pod, record) => {
        record.backendState = (await h.backend.createContainer(record, pod)).backendState;
        // A created container has no processes yet: nothing to stop, no exit.
        expect(await h.backend.stopContainer(record, 10)).toBeUndefined();
        const started = await h.backend.startContainer(record, pod);
        if (started.backendState) record.backendState = started.backendState;
        await killConmon(h.stateDir, record.id);
        const backend = await h.reopen();
        expect(await backend.inspectContainer(record)).toMatchObject({ state: "running" });
        const exit = await backend.stopContainer(record, 10);
        expect(exit).toMatchObject({ exitCode: 255, message: expect.stringContaining("conmon") });
        await backend.removeContainer(record, pod);
        return backend;
      });
    }, 20_000);

    it("answers a running container's state from its init process, and an exit from conmon's file", async () => {
      await inFreshPod(async (h, pod, record) => {
        record.backendState = (await h.backend.createContainer(record, pod)).backendState;
        const started = await h.backend.startContainer(record, pod);
        if (started.backendState) record.backendState = started.backendState;
        const backend = await h.reopen();
        const running = await backend.inspectContainer(record);
        expect(running).toMatchObject({ state: "running" });
        expect(running.state === "running" && running.pid).toBe((record.backendState as { pid: number }).pid);
        expect(await backend.stopContainer(record, 0)).toMatchObject({ exitCode: 137 });
        expect(await backend.inspectContainer(record)).toMatchObject({
          state: "exited",
          exit: { exitCode: 137 },
        });
        await backend.removeContainer(record, pod);
        return backend;
      });
    }, 30_000);
  },
);
