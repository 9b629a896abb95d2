/**
 * Cancellation at the backend seam (issue 12): a start whose signal aborts
 * mid-way — right after it begins, while `runc create` runs (it comes at
 * start, as in containerd), just before it returns — kills what it started,
 * runs its undo steps and leaves the container created, with no process,
 * mount, runc state or cgroup; the same container starts afterwards. Real runc + conmon;
 * a wrapper around runc holds `runc create` at a known point so the abort
 * lands there without any timing.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import type { RuntimeBackend, SandboxRecord } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConmonMonitor, createOciBackend } from "../src/index.js";
import {
  canRunReal,
  containerRecord,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  leaks,
  removalsSettled,
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
  "oci backend: a cancelled start leaves a created container (real runc + conmon)",
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
        // The pod infra as a runc container: these tests hold and watch its runc.
        podInfra: "runtime",
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
      const left = await leaks(h);
      destroyHarnessDirs(h);
      expect(left).toEqual([]);
    });

    /**
     * Creates a container, runs its start cancelled by `cancel` (conmon and `runc create` come at
     * start), checks the error and that the container is back to created — no process, mount, runc
     * state or cgroup — then starts it for real and removes it.
     */
    const cancelledStart = async (
      cancel: (c: AbortController, started: Promise<unknown>) => Promise<void>,
      preAbort = false,
    ) => {
      const before = await leaks(h);
      const record = containerRecord(pod, h.image, { command: ["sleep", "60"] }, join(h.logDir, "c.log"));
      record.backendState = (await backend.createContainer(record, pod)).backendState;
      const controller = new AbortController();
      if (preAbort) controller.abort();
      const started = backend.startContainer(record, pod, controller.signal);
      started.catch(() => {});
      await cancel(controller, started);
      const err = await started.then(
        () => undefined,
        (e: unknown) => e,
      );
      abortAfterMonitor = undefined;
      hold("off");
      expect(err).toBeInstanceOf(CriError);
      expect((err as CriError).code).toBe("DeadlineExceeded");
      expect((err as CriError).message).toContain("cancelled");
      // Its files (bundle, writable layer) stay: it is a created container.
      expect(traces(h, record.id).filter((t) => !t.startsWith("file: "))).toEqual([]);
      expect(await backend.inspectContainer(record)).toEqual({ state: "created" });

      // The same container starts (and runs) right after.
      const s = await backend.startContainer(record, pod);
      if (s.backendState) record.backendState = s.backendState;
      expect(await backend.inspectContainer(record)).toMatchObject({ state: "running" });
      await backend.removeContainer(record, pod);
      expect(await leaks(h)).toEqual(before);
      expect(traces(h, record.id)).toEqual([]);
    };

    it("rejects at once when the signal has already aborted", async () => {
      await cancelledStart(async () => {}, true);
    });

    it("undoes everything when aborted right after the start began", async () => {
      await cancelledStart(async (c) => {
        c.abort();
      });
    });

    it("kills conmon and runc when aborted while runc create is held before it runs", async () => {
      hold("before");
      await cancelledStart(async (c) => {
        await until(join(holdDir, "started"));
        c.abort();
      });
    });

    it("kills conmon and deletes the runc container when aborted after runc create ran, before conmon reported", async () => {
      hold("after");
      await cancelledStart(async (c) => {
        await until(join(holdDir, "started"));
        c.abort();
      });
    });

    it("undoes a finished runc create when aborted just before the start goes on", async () => {
      await cancelledStart(async (c) => {
        abortAfterMonitor = c;
      });
    });

    it("answers with the signal's CriError reason (the service closing)", async () => {
      const record = containerRecord(pod, h.image, { command: ["sleep", "60"] });
      record.backendState = (await backend.createContainer(record, pod)).backendState;
      hold("before");
      const controller = new AbortController();
      const started = backend.startContainer(record, pod, controller.signal);
      await until(join(holdDir, "started"));
      controller.abort(new CriError("Unavailable", "the runtime service is closing"));
      const err = (await started.catch((e: unknown) => e)) as CriError;
      hold("off");
      expect(err.code).toBe("Unavailable");
      expect(err.message).toContain("the runtime service is closing");
      expect(traces(h, record.id).filter((t) => !t.startsWith("file: "))).toEqual([]);
      await backend.removeContainer(record, pod);
      await removalsSettled(h);
      expect(traces(h, record.id)).toEqual([]);
    });

    it("undoes a pod sandbox whose run is aborted while runc create runs", async () => {
      const before = await leaks(h);
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
      expect(await leaks(h)).toEqual(before);
      const again = await runPod(backend, { ...sandbox, backendState: {} });
      expect((await backend.inspectSandbox(again)).ready).toBe(true);
      await backend.stopSandbox(again);
      await backend.removeSandbox(again);
      await removalsSettled(h);
      expect(traces(h, sandbox.id)).toEqual([]);
    });

    it("closing the runtime service mid-start keeps the container CREATED, and a reopened service starts it", async () => {
      const storeDir = join(h.dir, "store");
      // The service's own backend (closed with it); the pod of this suite is not its business.
      const open = () => openRuntimeService(h, join(holdDir, "runc-holding"), storeDir);
      const before = await leaks(h);
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
      const { containerId } = await runtime.createContainer({ podSandboxId, config, sandboxConfig });
      hold("before");
      const started = runtime.startContainer({ containerId });
      started.catch(() => {});
      await until(join(holdDir, "started"));
      await runtime.close();
      const err = (await started.catch((e: unknown) => e)) as CriError;
      hold("off");
      expect(err.code).toBe("Unavailable");
      expect(traces(h, containerId).filter((t) => !t.startsWith("file: "))).toEqual([]);

      runtime = await open();
      expect((await runtime.containerStatus({ containerId })).status?.state).toBe("CONTAINER_CREATED");
      await runtime.startContainer({ containerId });
      expect((await runtime.containerStatus({ containerId })).status?.state).toBe("CONTAINER_RUNNING");
      await runtime.stopPodSandbox({ podSandboxId });
      await runtime.removePodSandbox({ podSandboxId });
      await runtime.close();
      expect(await leaks(h)).toEqual(before);
    });
  },
);
