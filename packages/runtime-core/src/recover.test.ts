import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerId, SandboxId } from "@servin/cri-types";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { containerConfig, createHarness, fakeImages, type Harness, podConfig } from "./_test-harness.js";
import type { RuntimeBackend } from "./backend.js";
import { createMemoryBackend, type MemoryBackend } from "./memory/backend.js";
import { createRuntimeService } from "./service.js";
import { pendingContainerStatus } from "./store/container-status.js";
import { createFileStore } from "./store/file.js";
import { pendingSandboxStatus } from "./store/sandbox-status.js";

let dir: string;
let h: Harness | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-recover-"));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function fileHarness() {
  h = await createHarness({ openStore: () => createFileStore(dir) });
  return h;
}

async function podWith(harness: Harness, ...names: string[]) {
  const { podSandboxId } = await harness.runtime.runPodSandbox({ config: podConfig() });
  const ids: string[] = [];
  for (const name of names) {
    ids.push(
      (await harness.runtime.createContainer({ podSandboxId, config: containerConfig(name) })).containerId,
    );
  }
  return { podSandboxId, ids };
}

describe("restart over a file store", () => {
  it("keeps every state, timestamp and name across close and reopen", async () => {
    const harness = await fileHarness();
    const { podSandboxId, ids } = await podWith(harness, "run", "exit", "made");
    const [running, exited, created] = ids as [string, string, string];
    await harness.runtime.startContainer({ containerId: running });
    await harness.runtime.startContainer({ containerId: exited });
    await harness.runtime.stopContainer({ containerId: exited, timeout: 0 });
    const stopped = (await harness.runtime.runPodSandbox({ config: podConfig("stopped") })).podSandboxId;
    await harness.runtime.stopPodSandbox({ podSandboxId: stopped });
    const before = {
      pods: await harness.runtime.listPodSandbox({}),
      containers: await harness.runtime.listContainers({}),
      statuses: await Promise.all(ids.map((containerId) => harness.runtime.containerStatus({ containerId }))),
    };

    const runtime = await harness.restart();

    expect(await runtime.listPodSandbox({})).toEqual(before.pods);
    expect(await runtime.listContainers({})).toEqual(before.containers);
    expect(await Promise.all(ids.map((containerId) => runtime.containerStatus({ containerId })))).toEqual(
      before.statuses,
    );
    expect(await runtime.recovered).toEqual({ sandboxes: 2, containers: 3, cleanedUp: 0, changed: 0 });
    await expect(
      runtime.createContainer({ podSandboxId, config: containerConfig("made") }),
    ).rejects.toMatchObject({
      code: "AlreadyExists",
      message: expect.stringContaining(created),
    });
    await expect(runtime.runPodSandbox({ config: podConfig("stopped") })).rejects.toMatchObject({
      code: "AlreadyExists",
    });
    // Exits the backend reports after the restart still arrive.
    harness.backend.simulateExit(running as ContainerId, 9);
    for (;;) {
      const { status } = await runtime.containerStatus({ containerId: running });
      if (status.state === "CONTAINER_EXITED") {
        expect(status.exitCode).toBe(9);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  });

  it("records the real exit code of a container that exited while servin was down", async () => {
    const harness = await fileHarness();
    const { ids } = await podWith(harness, "c");
    const id = ids[0] as ContainerId;
    await harness.runtime.startContainer({ containerId: id });
    await harness.runtime.close();
    harness.backend.simulateExit(id, 3); // nobody listens: servin is down
    const runtime = await harness.restart();
    const { status } = await runtime.containerStatus({ containerId: id });
    expect(status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 3, reason: "Error" });
    expect(status.finishedAt > status.startedAt).toBe(true);
    expect((await runtime.recovered).changed).toBe(1);
  });

  it("marks a container that vanished as CONTAINER_UNKNOWN and a pod whose infra died as NOTREADY", async () => {
    const harness = await fileHarness();
    const a = await podWith(harness, "gone");
    const b = await podWith(harness, "killed");
    await harness.runtime.startContainer({ containerId: a.ids[0]! });
    await harness.runtime.startContainer({ containerId: b.ids[0]! });
    await harness.runtime.close();
    harness.backend.simulateVanish(a.ids[0] as ContainerId);
    harness.backend.simulateSandboxDeath(b.podSandboxId as SandboxId);
    const runtime = await harness.restart();
    expect((await runtime.containerStatus({ containerId: a.ids[0]! })).status).toMatchObject({
      state: "CONTAINER_UNKNOWN",
      message: expect.stringContaining("memory backend has no container"),
    });
    expect((await runtime.podSandboxStatus({ podSandboxId: a.podSandboxId })).status.state).toBe(
      "SANDBOX_READY",
    );
    expect((await runtime.podSandboxStatus({ podSandboxId: b.podSandboxId })).status.state).toBe(
      "SANDBOX_NOTREADY",
    );
    expect((await runtime.containerStatus({ containerId: b.ids[0]! })).status.exitCode).toBe(137);
    // An UNKNOWN container can still be removed, and so can its pod.
    await runtime.removePodSandbox({ podSandboxId: a.podSandboxId });
    expect(runtime.counts()).toEqual({ sandboxes: 1, containers: 1, running: 0 });
  });

  it("a container the backend started before the crash, but not recorded as started, is RUNNING", async () => {
    const harness = await fileHarness();
    const { ids } = await podWith(harness, "c");
    await harness.runtime.startContainer({ containerId: ids[0]! });
    await harness.runtime.close();
    const store = await createFileStore(dir);
    const snapshot = await store.load();
    const c = snapshot.containers[0]!;
    await store.putContainer({ ...c, status: { ...c.status, startedAt: 0n } });
    const runtime = await harness.restart();
    expect((await runtime.containerStatus({ containerId: ids[0]! })).status.state).toBe("CONTAINER_RUNNING");
  });
});

describe("crash recovery", () => {
  it("cleans up pending records through the backend and drops them", async () => {
    const backend = createMemoryBackend();
    const store = await createFileStore(dir);
    const images = fakeImages();
    // A pod whose RunPodSandbox was interrupted after the backend made it, and a container likewise.
    const pod = {
      id: "a".repeat(64) as SandboxId,
      config: podConfig("crashed"),
      runtimeHandler: "",
      createdAt: 1n,
      backendState: {},
    };
    await store.putSandbox({ metadata: pod, status: pendingSandboxStatus() });
    await backend.runSandbox(pod);
    const ready = {
      id: "b".repeat(64) as SandboxId,
      config: podConfig("ready"),
      runtimeHandler: "",
      createdAt: 1n,
      backendState: {},
    };
    await backend.runSandbox(ready);
    await store.putSandbox({
      metadata: ready,
      status: { createdAt: 2n, state: "SANDBOX_READY", stoppedAt: 0n },
    });
    const ctr = {
      id: "c".repeat(64) as ContainerId,
      sandboxId: ready.id,
      config: containerConfig("half"),
      image: await images.resolveImage("busybox:latest"),
      logPath: "",
      createdAt: 1n,
      backendState: {},
    };
    await store.putContainer({ metadata: ctr, status: pendingContainerStatus() });
    await backend.createContainer(ctr, ready);
    // An orphan: its pod's record is gone.
    const orphan = { ...ctr, id: "d".repeat(64) as ContainerId, sandboxId: "e".repeat(64) as SandboxId };
    await store.putContainer({ metadata: orphan, status: { ...pendingContainerStatus(), createdAt: 3n } });

    const runtime = await createRuntimeService({ backend, images, store });
    try {
      expect(await runtime.recovered).toEqual({ sandboxes: 1, containers: 0, cleanedUp: 3, changed: 0 });
      expect(backend.sandboxIds()).toEqual([ready.id]);
      expect(backend.containerIds()).toEqual([]);
      const left = await (await createFileStore(dir)).load();
      expect(left.sandboxes.map((s) => s.metadata.id)).toEqual([ready.id]);
      expect(left.containers).toEqual([]);
      // The names of the cleaned-up objects are free.
      await runtime.runPodSandbox({ config: podConfig("crashed") });
      await runtime.createContainer({ podSandboxId: ready.id, config: containerConfig("half") });
    } finally {
      await runtime.close();
    }
  });

  it("a service that died mid-create leaves a pending record the next start cleans up", async () => {
    const backend = createMemoryBackend();
    const images = fakeImages();
    const first = await createRuntimeService({ backend, images, store: await createFileStore(dir) });
    const { podSandboxId } = await first.runPodSandbox({ config: podConfig("p") });
    backend.hold("createContainer"); // never released: the "process" dies while the backend works
    void first.createContainer({ podSandboxId, config: containerConfig("stuck") }).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    expect((await (await createFileStore(dir)).load()).containers).toHaveLength(1);

    // No close(): a crash. The next servin starts over the same directory and backend.
    const second = await createRuntimeService({ backend, images, store: await createFileStore(dir) });
    try {
      expect((await second.recovered).cleanedUp).toBe(1);
      expect((await second.listContainers({})).containers).toEqual([]);
      const { containerId } = await second.createContainer({
        podSandboxId,
        config: containerConfig("stuck"),
      });
      expect(containerId).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await second.close();
    }
  });
});

/** The memory backend with one operation held until `release()` (a backend slow to answer after a crash). */
function slowBackend(backend: MemoryBackend, op: "inspectContainer" | "removeContainer", id: string) {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  const slow: RuntimeBackend = {
    ...backend,
    async inspectContainer(c) {
      if (op === "inspectContainer" && c.id === id) await released;
      return backend.inspectContainer(c);
    },
    async removeContainer(c, s) {
      if (op === "removeContainer" && c.id === id) await released;
      return backend.removeContainer(c, s);
    },
  };
  return { slow, release };
}

describe("recovery never blocks the API (issue 14)", () => {
  it("answers at once; a call on an object not yet reconciled waits for it, then answers Unavailable naming it", async () => {
    const harness = await fileHarness();
    const { ids } = await podWith(harness, "held", "free");
    const [held, free] = ids as [ContainerId, ContainerId];
    await harness.runtime.startContainer({ containerId: held });
    await harness.runtime.startContainer({ containerId: free });
    await harness.runtime.close();
    harness.backend.simulateExit(held, 3); // while servin is down
    const { slow, release } = slowBackend(harness.backend, "inspectContainer", held);

    const runtime = await createRuntimeService({
      backend: slow,
      images: fakeImages(),
      store: await createFileStore(dir),
    });
    try {
      expect((await runtime.version({})).runtimeName).toBe("servin");
      // Reconciled on demand, ahead of the queue: the right state, never the stored (stale) one.
      expect((await runtime.containerStatus({ containerId: free })).status.state).toBe("CONTAINER_RUNNING");
      // Its stored state says RUNNING, but it exited: no answer rather than a wrong one.
      await expect(runtime.containerStatus({ containerId: held })).rejects.toMatchObject({
        code: "Unavailable",
        message: expect.stringMatching(new RegExp(`container "${held}" is being recovered.*retry`)),
      });
      await expect(runtime.listContainers({})).rejects.toMatchObject({
        code: "Unavailable",
        message: expect.stringContaining(held),
      });
      // Calls on objects that do not wait on it keep working.
      expect((await runtime.listPodSandbox({})).items).toHaveLength(1);
      release();
      expect((await runtime.containerStatus({ containerId: held })).status).toMatchObject({
        state: "CONTAINER_EXITED",
        exitCode: 3,
      });
      expect((await runtime.listContainers({})).containers).toHaveLength(2);
      expect(await runtime.recovered).toEqual({ sandboxes: 1, containers: 2, cleanedUp: 0, changed: 1 });
    } finally {
      release();
      await runtime.close();
    }
  });

  it("waits for recoverAfter before working through its queue; a call still has its object reconciled at once", async () => {
    const harness = await fileHarness();
    const { ids } = await podWith(harness, "a", "b");
    const [a, b] = ids as [ContainerId, ContainerId];
    await harness.runtime.startContainer({ containerId: a });
    await harness.runtime.startContainer({ containerId: b });
    await harness.runtime.close();
    harness.backend.simulateExit(b, 4);
    const inspected: string[] = [];
    const counting: RuntimeBackend = {
      ...harness.backend,
      inspectContainer(c) {
        inspected.push(c.id);
        return harness.backend.inspectContainer(c);
      },
    };
    let listening!: () => void;
    const recoverAfter = new Promise<void>((resolve) => {
      listening = resolve;
    });
    const store = await createFileStore(dir);
    const runtime = await createRuntimeService({
      backend: counting,
      images: fakeImages(),
      store,
      recoverAfter,
    });
    try {
      expect((await runtime.status({})).status.conditions.length).toBeGreaterThan(0);
      expect(inspected).toEqual([]);
      expect((await runtime.containerStatus({ containerId: b })).status.exitCode).toBe(4);
      expect(inspected).toEqual([b]);
      listening();
      expect(await runtime.recovered).toMatchObject({ containers: 2, changed: 1 });
      expect(inspected.sort()).toEqual([a, b].sort());
    } finally {
      await runtime.close();
    }
    // A service closed before its servers ever listened does not wait for them.
    const never = await createRuntimeService({
      backend: counting,
      images: fakeImages(),
      store: await createFileStore(dir),
      recoverAfter: new Promise(() => {}),
    });
    await never.close();
  });

  it("a half-created container whose cleanup hangs holds up only calls on its pod", async () => {
    const backend = createMemoryBackend();
    const images = fakeImages();
    const first = await createRuntimeService({ backend, images, store: await createFileStore(dir) });
    const { podSandboxId } = await first.runPodSandbox({ config: podConfig("p") });
    const other = (await first.runPodSandbox({ config: podConfig("q") })).podSandboxId;
    backend.hold("createContainer"); // never released: the "process" dies while the backend works
    void first.createContainer({ podSandboxId, config: containerConfig("stuck") }).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    const stuck = (await (await createFileStore(dir)).load()).containers[0]!.metadata.id;
    const { slow, release } = slowBackend(backend, "removeContainer", stuck);

    // No close(): a crash. The next servin starts while the cleanup of "stuck" cannot finish.
    const second = await createRuntimeService({ backend: slow, images, store: await createFileStore(dir) });
    try {
      expect((await second.listPodSandbox({})).items).toHaveLength(2);
      expect((await second.listContainers({})).containers).toEqual([]);
      const c = await second.createContainer({ podSandboxId: other, config: containerConfig("fine") });
      expect((await second.containerStatus(c)).status.state).toBe("CONTAINER_CREATED");
      await expect(second.removePodSandbox({ podSandboxId })).rejects.toMatchObject({
        code: "Unavailable",
        message: expect.stringContaining(`container "${stuck}" is being cleaned up after a crash`),
      });
      release();
      expect((await second.recovered).cleanedUp).toBe(1);
      await second.removePodSandbox({ podSandboxId });
      expect((await (await createFileStore(dir)).load()).containers.map((x) => x.metadata.id)).toEqual([
        c.containerId,
      ]);
    } finally {
      release();
      await second.close();
    }
  });
  it("is recovered only once the backend has settled its background cleanups (nothing left being removed)", async () => {
    const backend = createMemoryBackend();
    const images = fakeImages();
    const first = await createRuntimeService({ backend, images, store: await createFileStore(dir) });
    const { podSandboxId } = await first.runPodSandbox({ config: podConfig("p") });
    backend.hold("createContainer"); // never released: the "process" dies mid-create
    void first.createContainer({ podSandboxId, config: containerConfig("half") }).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));

    // A backend that, like the OCI one, answers RemoveContainer first and cleans up afterwards.
    let settle!: () => void;
    let settledCalls = 0;
    const cleanedUp = new Promise<void>((r) => {
      settle = r;
    });
    const lazy: RuntimeBackend = Object.assign(Object.create(backend) as RuntimeBackend, {
      async settled() {
        settledCalls++;
        await cleanedUp;
      },
    });
    const second = await createRuntimeService({ backend: lazy, images, store: await createFileStore(dir) });
    try {
      let recovered = false;
      void second.recovered.then(() => {
        recovered = true;
      });
      // The core's own cleanup of "half" ran; the backend's background part has not finished yet.
      while (settledCalls === 0) await new Promise((r) => setTimeout(r, 5));
      expect(second.recovery.cleanedUp).toBe(1);
      await new Promise((r) => setTimeout(r, 20));
      expect(recovered).toBe(false);
      settle();
      expect((await second.recovered).cleanedUp).toBe(1);
      expect(settledCalls).toBe(1);
    } finally {
      settle();
      await second.close();
    }
  });
});
