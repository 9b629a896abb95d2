/**
 * Cancellation at the backend seam (issue 12): a create whose signal aborts
 * mid-way — right after it starts, while `runc create` runs, just before it
 * returns — kills what it started, runs its undo steps and leaves nothing
 * behind; a create with the same name succeeds afterwards. Real runc + conmon;
 * a wrapper around runc holds `runc create` at a known point so the abort
 * lands there without any timing.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import type { ContainerRecord, RuntimeBackend, SandboxRecord } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConmonMonitor, createOciBackend } from "../src/index.js";
import {
  canRunReal,
  containerRecord,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  leaks,
  runPod,
  sandboxRecord,
} from "./fixtures/harness.js";
import { openRuntimeService, traces, until, writeRuncWrapper } from "./fixtures/runc-wrapper.js";

const real = canRunReal();

/** Where `runc create` is held: "before" it runs, "after" it ran (conmon still waiting for it), or "off". */
type Hold = "before" | "after" | "off";

/** A runc that, for `create`, touches `started` and waits for `go` before (or after) running the real one. */
function writeHoldingRunc(dir: string): string {
  return writeRuncWrapper(
    dir,
    "runc-holding",
    `*" create "*)
  mode=$(cat "$d/mode" 2>/dev/null)
  if [ "$mode" = before ]; then
    touch "$d/started"; while [ ! -e "$d/go" ]; do sleep 0.02; done
    exec /usr/sbin/runc "$@"
  elif [ "$mode" = after ]; then
    /usr/sbin/runc "$@"; rc=$?
    touch "$d/started"; while [ ! -e "$d/go" ]; do sleep 0.02; done
    exit $rc
  fi
  ;;`,
  );
}

describe.skipIf(!real.ok)(
  "oci backend: a cancelled create leaves nothing behind (real runc + conmon)",
  () => {
    let h: Harness;
    let holdDir: string;
    let pod: SandboxRecord;
    /** Set by a test: aborted by the monitor wrapper once conmon has reported the pid. */
    let abortAfterMonitor: AbortController | undefined;
    let backend: RuntimeBackend;

    const hold = (mode: Hold) => {
      rmSync(join(holdDir, "started"), { force: true });
      rmSync(join(holdDir, "go"), { force: true });
      writeFileSync(join(holdDir, "mode"), mode);
    };

    beforeAll(async () => {
      h = await createHarness();
      await h.backend.close();
      holdDir = join(h.dir, "hold");
      mkdirSync(holdDir);
      hold("off");
      const conmon = createConmonMonitor({ path: "/usr/bin/conmon" });
      backend = await createOciBackend({
        root: h.root,
        stateDir: h.stateDir,
        cgroupParent: h.cgroupParent,
        runtimes: { runc: { path: writeHoldingRunc(holdDir) } },
        monitor: {
          async create(opts) {
            const created = await conmon.create(opts);
            abortAfterMonitor?.abort();
            return created;
          },
          reopenLog: (bundle, id, logPath) => conmon.reopenLog(bundle, id, logPath),
        },
      });
      h.backend = backend;
      pod = await runPod(backend, sandboxRecord({}, h.logDir));
    });

    afterAll(async () => {
      if (!h) return;
      hold("off");
      await backend.stopSandbox(pod);
      await backend.removeSandbox(pod);
      await backend.close();
      const left = leaks(h);
      destroyHarnessDirs(h);
      expect(left).toEqual([]);
    });

    /** Runs a create cancelled by `cancel`, checks the error and that nothing is left, then creates again. */
    const cancelledCreate = async (
      cancel: (c: AbortController, created: Promise<unknown>) => Promise<void>,
      preAbort = false,
    ) => {
      const before = leaks(h);
      const record = containerRecord(pod, h.image, { command: ["sleep", "60"] }, join(h.logDir, "c.log"));
      const controller = new AbortController();
      if (preAbort) controller.abort();
      const created = backend.createContainer(record, pod, controller.signal);
      created.catch(() => {});
      await cancel(controller, created);
      const err = await created.then(
        () => undefined,
        (e: unknown) => e,
      );
      abortAfterMonitor = undefined;
      hold("off");
      expect(err).toBeInstanceOf(CriError);
      expect((err as CriError).code).toBe("DeadlineExceeded");
      expect((err as CriError).message).toContain("cancelled");
      expect(traces(h, record.id)).toEqual([]);
      expect(leaks(h)).toEqual(before);

      // The same name — and the same ID — can be created (and run) right after.
      const again: ContainerRecord = { ...record, backendState: {} };
      again.backendState = (await backend.createContainer(again, pod)).backendState;
      await backend.startContainer(again, pod);
      // runc start returns once init was told to exec; its exec may still be under way.
      let observed = await backend.inspectContainer(again);
      for (let i = 0; i < 200 && observed.state === "created"; i++) {
        await new Promise((r) => setTimeout(r, 10));
        observed = await backend.inspectContainer(again);
      }
      expect(observed.state).toBe("running");
      await backend.removeContainer(again, pod);
      expect(traces(h, record.id)).toEqual([]);
    };

    it("rejects at once when the signal has already aborted", async () => {
      await cancelledCreate(async () => {}, true);
    });

    it("undoes everything when aborted right after the create started", async () => {
      await cancelledCreate(async (c) => {
        c.abort();
      });
    });

    it("kills conmon and runc when aborted while runc create is held before it runs", async () => {
      hold("before");
      await cancelledCreate(async (c) => {
        await until(join(holdDir, "started"));
        c.abort();
      });
    });

    it("kills conmon and deletes the runc container when aborted after runc create ran, before conmon reported", async () => {
      hold("after");
      await cancelledCreate(async (c) => {
        await until(join(holdDir, "started"));
        c.abort();
      });
    });

    it("undoes a finished create when aborted just before it returns", async () => {
      await cancelledCreate(async (c) => {
        abortAfterMonitor = c;
      });
    });

    it("answers with the signal's CriError reason (the service closing)", async () => {
      hold("before");
      const record = containerRecord(pod, h.image, { command: ["sleep", "60"] });
      const controller = new AbortController();
      const created = backend.createContainer(record, pod, controller.signal);
      await until(join(holdDir, "started"));
      controller.abort(new CriError("Unavailable", "the runtime service is closing"));
      const err = (await created.catch((e: unknown) => e)) as CriError;
      hold("off");
      expect(err.code).toBe("Unavailable");
      expect(err.message).toContain("the runtime service is closing");
      expect(traces(h, record.id)).toEqual([]);
    });

    it("undoes a pod sandbox whose run is aborted while runc create runs", async () => {
      const before = leaks(h);
      hold("after");
      const sandbox = sandboxRecord({}, h.logDir);
      const controller = new AbortController();
      const ran = backend.runSandbox(sandbox, controller.signal);
      await until(join(holdDir, "started"));
      controller.abort();
      const err = (await ran.catch((e: unknown) => e)) as CriError;
      hold("off");
      expect(err.code).toBe("DeadlineExceeded");
      expect(traces(h, sandbox.id)).toEqual([]);
      expect(leaks(h)).toEqual(before);
      const again = await runPod(backend, { ...sandbox, backendState: {} });
      expect((await backend.inspectSandbox(again)).ready).toBe(true);
      await backend.stopSandbox(again);
      await backend.removeSandbox(again);
      expect(traces(h, sandbox.id)).toEqual([]);
    });

    it("closing the runtime service mid-create leaves no store record, and a reopened service creates the same name", async () => {
      const storeDir = join(h.dir, "store");
      // The service's own backend (closed with it); the pod of this suite is not its business.
      const open = () => openRuntimeService(h, join(holdDir, "runc-holding"), storeDir);
      const before = leaks(h);
      let runtime = await open();
      const { podSandboxId } = await runtime.runPodSandbox({
        config: { metadata: { name: "cancel", namespace: "default", uid: "cancel-uid", attempt: 0 } },
      });
      const config = {
        metadata: { name: "held", attempt: 0 },
        image: { image: h.image.ref },
        command: ["sleep", "60"],
      };
      const sandboxConfig = {
        metadata: { name: "cancel", namespace: "default", uid: "cancel-uid", attempt: 0 },
      };
      hold("before");
      const created = runtime.createContainer({ podSandboxId, config, sandboxConfig });
      created.catch(() => {});
      await until(join(holdDir, "started"));
      const storeBefore = readdirSync(storeDir, { recursive: true }).map(String).sort();
      await runtime.close();
      const err = (await created.catch((e: unknown) => e)) as CriError;
      hold("off");
      expect(err.code).toBe("Unavailable");
      const storeAfter = readdirSync(storeDir, { recursive: true }).map(String).sort();
      const held = storeBefore.filter((f) => !storeAfter.includes(f));
      expect(held.length).toBeGreaterThan(0); // the container's record, persisted before the backend started, is gone
      const heldIds = [...new Set(held.map((f) => /[0-9a-f]{64}/.exec(f)?.[0]).filter(Boolean))] as string[];
      expect(heldIds).toHaveLength(1);
      expect(traces(h, heldIds[0] as string)).toEqual([]);

      runtime = await open();
      const { containerId } = await runtime.createContainer({ podSandboxId, config, sandboxConfig });
      await runtime.startContainer({ containerId });
      expect((await runtime.containerStatus({ containerId })).status?.state).toBe("CONTAINER_RUNNING");
      await runtime.stopPodSandbox({ podSandboxId });
      await runtime.removePodSandbox({ podSandboxId });
      await runtime.close();
      expect(leaks(h)).toEqual(before);
    });
  },
);
