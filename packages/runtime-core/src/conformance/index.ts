/**
 * The shared CRI conformance suite: one set of behaviour tests that every
 * RuntimeService implementation runs — each backend, and each transport
 * (in process, HTTP/JSON, gRPC) — as Hono runs one router suite over every router.
 */
import type { ImageService, RuntimeService } from "@servin/cri-types";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type ConfigFactory,
  collectEvents,
  configFactory,
  type EventCollector,
  eventually,
  expectCode,
  randomHex,
  SUITE_LABEL,
  sleep,
  TEST_LABEL,
  waitForContainerState,
} from "./_helpers.js";

/** What a conformance setup hands the suite. */
export interface ConformanceTarget {
  runtime: RuntimeService;
  /** When given, the suite pulls `options.image` through it before the container tests. */
  images?: ImageService;
  /**
   * Closes the current runtime and opens a new one over the same persisted
   * state and backend (a server restart); returns the new runtime. Without
   * it the restart tests are skipped.
   */
  restart?: () => Promise<RuntimeService>;
  /** Releases everything the setup made (the suite has already removed its pods). */
  cleanup(): Promise<void>;
}

/**
 * The in-process target: a runtime opened by `open()`, restarted by closing it
 * and opening again over the same state, closed (then `release`d) at cleanup.
 *
 * @example
 * describeRuntimeConformance("memory backend", async () =>
 *   restartableTarget(() => createRuntimeService({ backend, images, store: createMemoryStore() })),
 * );
 */
export async function restartableTarget(
  open: () => Promise<RuntimeService & { close(): Promise<void> }>,
  release: () => Promise<void> = async () => {},
): Promise<ConformanceTarget> {
  let runtime = await open();
  return {
    get runtime() {
      return runtime;
    },
    async restart() {
      await runtime.close();
      runtime = await open();
      return runtime;
    },
    async cleanup() {
      await runtime.close();
      await release();
    },
  };
}

export interface ConformanceOptions {
  /** Image reference every container uses (default "busybox:latest"). */
  image?: string;
  /** A reference that does not resolve (default "servin.invalid/conformance/missing:never"). */
  missingImage?: string;
  /** argv of a process that runs until stopped (default ["sleep", "3600"]). */
  longRunning?: string[];
  /** argv of a process that exits by itself with `code` (default sh -c "exit N"). */
  exitWith?: (code: number) => string[];
  /** When set, pods get a log directory under it (the backend writes logs there). */
  logDirectory?: string;
  /** Exit code StopContainer with timeout 0 leaves (SIGKILL: 137, as runc and the memory backend report). */
  killedExitCode?: number;
  /** Test names (as printed) to skip, e.g. RPCs a transport does not carry yet. */
  skip?: string[];
}

/**
 * Declares the conformance tests with vitest. `setup` runs once for the
 * suite; tests scope themselves by labels, so a shared server is fine.
 *
 * @example
 * import { describeRuntimeConformance } from "@servin/runtime-core/conformance";
 * describeRuntimeConformance("memory backend", async () => {
 *   const runtime = await createRuntimeService({ backend: createMemoryBackend(), images, store: createMemoryStore() });
 *   return { runtime, cleanup: () => runtime.close() };
 * });
 */
export function describeRuntimeConformance(
  name: string,
  setup: () => Promise<ConformanceTarget>,
  options: ConformanceOptions = {},
): void {
  const image = options.image ?? "busybox:latest";
  const missingImage = options.missingImage ?? "servin.invalid/conformance/missing:never";
  const longRunning = options.longRunning ?? ["sleep", "3600"];
  const exitWith = options.exitWith ?? ((code: number) => ["sh", "-c", `exit ${code}`]);
  const killedExitCode = options.killedExitCode ?? 137;
  const skip = new Set(options.skip ?? []);
  const runId = randomHex(4);

  describe(`CRI runtime conformance: ${name}`, () => {
    let target: ConformanceTarget;
    let runtime: RuntimeService;
    let testCounter = 0;
    let currentTest = "";
    const make: ConfigFactory = configFactory(runId, () => currentTest, image, options.logDirectory);

    const test = (title: string, fn: (skipTest: () => void) => Promise<void>) =>
      it.skipIf(skip.has(title))(title, async (context) => {
        currentTest = `t${++testCounter}`;
        await fn(() => context.skip());
      });

    beforeAll(async () => {
      target = await setup();
      runtime = target.runtime;
      if (target.images) await target.images.pullImage({ image: { image } });
    });

    afterEach(async () => {
      // Remove whatever this run left (also exercises RemovePodSandbox on every state).
      if (!runtime) return;
      const { items } = await runtime.listPodSandbox({ filter: { labelSelector: { [SUITE_LABEL]: runId } } });
      for (const pod of items) await runtime.removePodSandbox({ podSandboxId: pod.id });
    });

    afterAll(async () => {
      await target?.cleanup();
    });

    const runPod = async (podName: string, extra?: Parameters<ConfigFactory["pod"]>[1]) =>
      (await runtime.runPodSandbox({ config: make.pod(podName, extra) })).podSandboxId;
    const createIn = async (podSandboxId: string, ctrName: string, argv = longRunning, extra = {}) =>
      (
        await runtime.createContainer({
          podSandboxId,
          config: make.container(ctrName, argv, extra),
          sandboxConfig: make.pod("unused"),
        })
      ).containerId;
    const runContainer = async (podSandboxId: string, ctrName: string, argv = longRunning) => {
      const id = await createIn(podSandboxId, ctrName, argv);
      await runtime.startContainer({ containerId: id });
      return id;
    };

    describe("runtime", () => {
      test("Version names the runtime and speaks CRI v1", async () => {
        const v = await runtime.version({});
        expect(v.version).toBe("0.1.0");
        expect(v.runtimeName).not.toBe("");
        expect(v.runtimeVersion).not.toBe("");
        expect(v.runtimeApiVersion).toBe("v1");
      });

      test("Status reports RuntimeReady and NetworkReady conditions", async () => {
        const { status } = await runtime.status({});
        const types = status.conditions.map((c) => c.type);
        expect(types).toContain("RuntimeReady");
        expect(types).toContain("NetworkReady");
        expect(status.conditions.find((c) => c.type === "RuntimeReady")?.status).toBe(true);
        for (const c of status.conditions) if (!c.status) expect(c.message).not.toBe("");
      });

      test("RuntimeConfig reports a cgroup driver", async () => {
        const config = await runtime.runtimeConfig({});
        expect(["SYSTEMD", "CGROUPFS"]).toContain(config.linux?.cgroupDriver);
      });

      test("streaming RPCs without a streaming server answer Unimplemented", async () => {
        const pod = await runPod("unimpl");
        const ctr = await runContainer(pod, "c");
        await expectCode(runtime.exec({ containerId: ctr, cmd: ["sh"], stdout: true }), "Unimplemented");
        await expectCode(runtime.attach({ containerId: ctr, stdout: true }), "Unimplemented");
        await expectCode(runtime.portForward({ podSandboxId: pod, port: [80] }), "Unimplemented");
      });
    });

    describe("pod sandbox lifecycle", () => {
      test("run → READY, stop → NOTREADY, remove → gone", async () => {
        const id = await runPod("lifecycle");
        expect(id).toMatch(/^[0-9a-f]{64}$/);
        let { status } = await runtime.podSandboxStatus({ podSandboxId: id });
        expect(status.state).toBe("SANDBOX_READY");
        expect(status.metadata.name).toBe("lifecycle");
        expect(status.createdAt > 0n).toBe(true);
        expect(status.labels?.[TEST_LABEL]).toBe(currentTest);

        await runtime.stopPodSandbox({ podSandboxId: id });
        ({ status } = await runtime.podSandboxStatus({ podSandboxId: id }));
        expect(status.state).toBe("SANDBOX_NOTREADY");
        await runtime.stopPodSandbox({ podSandboxId: id }); // idempotent

        await runtime.removePodSandbox({ podSandboxId: id });
        await expectCode(runtime.podSandboxStatus({ podSandboxId: id }), "NotFound", id);
        await runtime.removePodSandbox({ podSandboxId: id }); // idempotent
        const { items } = await runtime.listPodSandbox({ filter: { id } });
        expect(items).toEqual([]);
      });

      test("stop and remove of an unknown pod sandbox succeed", async () => {
        await runtime.stopPodSandbox({ podSandboxId: randomHex() });
        await runtime.removePodSandbox({ podSandboxId: randomHex() });
      });

      test("status of an unknown pod sandbox is NotFound naming it", async () => {
        const id = randomHex();
        await expectCode(
          runtime.podSandboxStatus({ podSandboxId: id }),
          "NotFound",
          `pod sandbox "${id}" not found`,
        );
      });

      test("RemovePodSandbox stops and removes the pod's containers", async () => {
        const pod = await runPod("with-containers");
        const running = await runContainer(pod, "running");
        const created = await createIn(pod, "created");
        await runtime.removePodSandbox({ podSandboxId: pod });
        await expectCode(runtime.containerStatus({ containerId: running }), "NotFound");
        await expectCode(runtime.containerStatus({ containerId: created }), "NotFound");
        const { containers } = await runtime.listContainers({ filter: { podSandboxId: pod } });
        expect(containers).toEqual([]);
      });

      test("StopPodSandbox stops running containers", async () => {
        const pod = await runPod("stop-kills");
        const ctr = await runContainer(pod, "c");
        await runtime.stopPodSandbox({ podSandboxId: pod });
        const { status } = await runtime.containerStatus({ containerId: ctr });
        expect(status.state).toBe("CONTAINER_EXITED");
        expect(status.finishedAt > 0n).toBe(true);
      });

      test("verbose PodSandboxStatus carries an info map of JSON strings", async () => {
        const pod = await runPod("verbose");
        const res = await runtime.podSandboxStatus({ podSandboxId: pod, verbose: true });
        expect(Object.keys(res.info ?? {}).length).toBeGreaterThan(0);
        for (const value of Object.values(res.info ?? {})) expect(() => JSON.parse(value)).not.toThrow();
      });
    });

    describe("container lifecycle", () => {
      test("create → CREATED, start → RUNNING, stop → EXITED, remove → gone", async () => {
        const pod = await runPod("ctr-lifecycle");
        const id = await createIn(pod, "app");
        expect(id).toMatch(/^[0-9a-f]{64}$/);
        let { status } = await runtime.containerStatus({ containerId: id });
        expect(status.state).toBe("CONTAINER_CREATED");
        expect(status.createdAt > 0n).toBe(true);
        expect(status.startedAt).toBe(0n);
        expect(status.imageRef).not.toBe("");
        expect(status.metadata).toMatchObject({ name: "app" });

        await runtime.startContainer({ containerId: id });
        ({ status } = await runtime.containerStatus({ containerId: id }));
        expect(status.state).toBe("CONTAINER_RUNNING");
        expect(status.startedAt >= status.createdAt).toBe(true);
        await expectCode(runtime.startContainer({ containerId: id }), "FailedPrecondition");

        await runtime.stopContainer({ containerId: id, timeout: 0 });
        ({ status } = await runtime.containerStatus({ containerId: id }));
        expect(status.state).toBe("CONTAINER_EXITED");
        expect(status.exitCode).toBe(killedExitCode);
        expect(status.reason).toBe("Error");
        expect(status.finishedAt >= status.startedAt).toBe(true);
        await runtime.stopContainer({ containerId: id, timeout: 0 }); // no-op on EXITED
        await expectCode(runtime.startContainer({ containerId: id }), "FailedPrecondition");

        await runtime.removeContainer({ containerId: id });
        await expectCode(runtime.containerStatus({ containerId: id }), "NotFound", id);
        await runtime.removeContainer({ containerId: id }); // idempotent
      });

      test("a container that exits by itself turns EXITED with its exit code", async () => {
        const pod = await runPod("self-exit");
        const failing = await runContainer(pod, "fails", exitWith(3));
        const ok = await runContainer(pod, "succeeds", exitWith(0));
        const failed = await waitForContainerState(runtime, failing, "CONTAINER_EXITED");
        expect(failed.exitCode).toBe(3);
        expect(failed.reason).toBe("Error");
        const succeeded = await waitForContainerState(runtime, ok, "CONTAINER_EXITED");
        expect(succeeded.exitCode).toBe(0);
        expect(succeeded.reason).toBe("Completed");
      });

      test("RemoveContainer force-stops a running container", async () => {
        const pod = await runPod("rm-running");
        const id = await runContainer(pod, "c");
        await runtime.removeContainer({ containerId: id });
        await expectCode(runtime.containerStatus({ containerId: id }), "NotFound");
      });

      test("unknown container IDs: remove succeeds, others are NotFound", async () => {
        const id = randomHex();
        await runtime.removeContainer({ containerId: id });
        await expectCode(
          runtime.containerStatus({ containerId: id }),
          "NotFound",
          `container "${id}" not found`,
        );
        await expectCode(runtime.startContainer({ containerId: id }), "NotFound");
        await expectCode(runtime.stopContainer({ containerId: id, timeout: 0 }), "NotFound");
      });

      test("CreateContainer in a NOTREADY pod sandbox is FailedPrecondition", async () => {
        const pod = await runPod("notready");
        await runtime.stopPodSandbox({ podSandboxId: pod });
        await expectCode(createIn(pod, "c"), "FailedPrecondition", pod);
      });

      test("CreateContainer in an unknown pod sandbox is NotFound", async () => {
        await expectCode(createIn(randomHex(), "c"), "NotFound");
      });

      test("CreateContainer with an image that does not resolve is NotFound naming it", async () => {
        const pod = await runPod("no-image");
        await expectCode(
          runtime.createContainer({
            podSandboxId: pod,
            config: { ...make.container("c", longRunning), image: { image: missingImage } },
          }),
          "NotFound",
          `image "${missingImage}" not found`,
        );
        // The failed create released its name.
        await createIn(pod, "c");
      });

      test("log_path is the pod's log directory joined with the container's", async () => {
        const pod = await runPod("logs");
        const id = await createIn(pod, "c", longRunning, { logPath: "c/0.log" });
        const { status } = await runtime.containerStatus({ containerId: id });
        if (options.logDirectory)
          expect(status.logPath).toBe(`${options.logDirectory}/${runId}-logs/c/0.log`);
        else expect(status.logPath).toBe("");
      });

      test("ExecSync runs in a running container and refuses others", async () => {
        const pod = await runPod("exec");
        const id = await runContainer(pod, "c");
        const res = await runtime.execSync({ containerId: id, cmd: ["echo", "hello", "world"], timeout: 10 });
        expect(new TextDecoder().decode(res.stdout)).toBe("hello world\n");
        expect(res.exitCode).toBe(0);
        const failing = await runtime.execSync({ containerId: id, cmd: exitWith(4), timeout: 10 });
        expect(failing.exitCode).toBe(4);
        await runtime.stopContainer({ containerId: id, timeout: 0 });
        await expectCode(
          runtime.execSync({ containerId: id, cmd: ["true"], timeout: 10 }),
          "FailedPrecondition",
        );
      });

      test("UpdateContainerResources is reflected in ContainerStatus", async () => {
        const pod = await runPod("update");
        const id = await runContainer(pod, "c");
        await runtime.updateContainerResources({ containerId: id, linux: { cpuShares: 512 } });
        const { status } = await runtime.containerStatus({ containerId: id });
        expect(status.resources?.linux?.cpuShares).toBe(512);
      });

      test("ContainerStats and ListContainerStats carry the container's attributes", async () => {
        const pod = await runPod("stats");
        const id = await runContainer(pod, "c");
        const { stats } = await runtime.containerStats({ containerId: id });
        expect(stats.attributes.id).toBe(id);
        const list = await runtime.listContainerStats({ filter: { podSandboxId: pod } });
        expect(list.stats.map((s) => s.attributes.id)).toEqual([id]);
        const podStats = await runtime.podSandboxStats({ podSandboxId: pod });
        expect(podStats.stats.attributes.id).toBe(pod);
      });

      test("verbose ContainerStatus carries an info map of JSON strings", async () => {
        const pod = await runPod("ctr-verbose");
        const id = await createIn(pod, "c");
        const res = await runtime.containerStatus({ containerId: id, verbose: true });
        expect(Object.keys(res.info ?? {}).length).toBeGreaterThan(0);
        for (const value of Object.values(res.info ?? {})) expect(() => JSON.parse(value)).not.toThrow();
      });
    });

    describe("config checks", () => {
      test("a pod hostname over 64 bytes or not an RFC 1123 name is InvalidArgument, and reserves nothing", async () => {
        // One name, namespace, uid and attempt throughout: the valid pod at the end proves the refusals reserved nothing.
        const uid = randomHex(8);
        const withHostname = (hostname: string) => ({ ...make.pod("hostname", { uid }), hostname });
        for (const bad of ["a".repeat(65), "under_score", "-leading", "dot..dot"]) {
          await expectCode(
            runtime.runPodSandbox({ config: withHostname(bad) }),
            "InvalidArgument",
            "config.hostname",
          );
        }
        // 64 bytes is the kernel's limit, and allowed.
        const longest = `${"a".repeat(31)}.${"b".repeat(32)}`;
        const pod = (await runtime.runPodSandbox({ config: withHostname(longest) })).podSandboxId;
        expect((await runtime.podSandboxStatus({ podSandboxId: pod })).status.state).toBe("SANDBOX_READY");
      });

      test("run_as_group without run_as_user is InvalidArgument, for a container and for a pod", async () => {
        const pod = await runPod("run-as-group");
        const group = { runAsGroup: { value: 1000 } };
        await expectCode(
          runtime.createContainer({
            podSandboxId: pod,
            config: { ...make.container("c", longRunning), linux: { securityContext: group } },
          }),
          "InvalidArgument",
          "run_as_group",
        );
        // With a user (or a user name) it is fine, and the failed create reserved nothing.
        await runtime.createContainer({
          podSandboxId: pod,
          config: {
            ...make.container("c", longRunning),
            linux: { securityContext: { ...group, runAsUser: { value: 1000 } } },
          },
        });
        await expectCode(
          runtime.runPodSandbox({
            config: { ...make.pod("pod-group"), linux: { securityContext: group } },
          }),
          "InvalidArgument",
          "run_as_group",
        );
      });
    });

    describe("names", () => {
      test("a second pod sandbox with the same name, namespace, uid and attempt is AlreadyExists", async () => {
        const uid = randomHex(8);
        const first = await runPod("dup", { uid });
        await expectCode(runPod("dup", { uid }), "AlreadyExists", first);
        const nextAttempt = await runPod("dup", { uid, attempt: 1 });
        expect(nextAttempt).not.toBe(first);
        await runtime.removePodSandbox({ podSandboxId: first });
        await runPod("dup", { uid }); // free again once the holder is removed
      });

      test("a second container with the same name and attempt in a pod is AlreadyExists", async () => {
        const pod = await runPod("ctr-dup");
        const other = await runPod("ctr-dup-other");
        const first = await createIn(pod, "same");
        await expectCode(createIn(pod, "same"), "AlreadyExists", first);
        await createIn(pod, "same", longRunning, { attempt: 1 });
        await createIn(other, "same"); // names are per pod
        await runtime.removeContainer({ containerId: first });
        await createIn(pod, "same");
      });

      test("parallel RunPodSandbox calls with one name: exactly one wins", async () => {
        const uid = randomHex(8);
        const config = make.pod("race", { uid });
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, () => runtime.runPodSandbox({ config })),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "AlreadyExists" });
        }
      });

      test("parallel CreateContainer calls with one name: exactly one wins", async () => {
        const pod = await runPod("ctr-race");
        const results = await Promise.allSettled(Array.from({ length: 5 }, () => createIn(pod, "same")));
        expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        const { containers } = await runtime.listContainers({ filter: { podSandboxId: pod } });
        expect(containers).toHaveLength(1);
      });
    });

    describe("IDs and filters", () => {
      test("lookups accept a unique ID prefix", async () => {
        const pod = await runPod("prefix");
        const ctr = await createIn(pod, "c");
        const { status } = await runtime.podSandboxStatus({ podSandboxId: pod.slice(0, 12) });
        expect(status.id).toBe(pod);
        const c = await runtime.containerStatus({ containerId: ctr.slice(0, 12) });
        expect(c.status.id).toBe(ctr);
        await runtime.startContainer({ containerId: ctr.slice(0, 10) });
      });

      test("an ambiguous prefix is InvalidArgument naming it", async () => {
        // Create pods until two IDs share their first hex digit (at most 17, usually ~5).
        const seen = new Map<string, string>();
        let prefix: string | undefined;
        for (let i = 0; prefix === undefined; i++) {
          const id = await runPod(`ambiguous-${i}`);
          const first = id.slice(0, 1);
          if (seen.has(first)) prefix = first;
          seen.set(first, id);
        }
        await expectCode(
          runtime.podSandboxStatus({ podSandboxId: prefix }),
          "InvalidArgument",
          `"${prefix}"`,
        );
      });

      test("ListPodSandbox filters by id, prefix, state and labels", async () => {
        const a = await runPod("filter-a", { labels: { tier: "web", color: "blue" } });
        const b = await runPod("filter-b", { labels: { tier: "web", color: "green" } });
        await runtime.stopPodSandbox({ podSandboxId: b });
        const scope = { [TEST_LABEL]: currentTest };
        const ids = async (filter: object) =>
          (await runtime.listPodSandbox({ filter: { labelSelector: scope, ...filter } })).items
            .map((p) => p.id)
            .sort();

        expect(await ids({})).toEqual([a, b].sort());
        expect(await ids({ id: a })).toEqual([a]);
        expect(await ids({ id: b.slice(0, 16) })).toEqual([b]);
        expect(await ids({ id: randomHex() })).toEqual([]);
        expect(await ids({ state: { state: "SANDBOX_READY" } })).toEqual([a]);
        expect(await ids({ state: { state: "SANDBOX_NOTREADY" } })).toEqual([b]);
        expect(await ids({ labelSelector: { ...scope, tier: "web" } })).toEqual([a, b].sort());
        expect(await ids({ labelSelector: { ...scope, tier: "web", color: "green" } })).toEqual([b]);
        expect(await ids({ labelSelector: { ...scope, tier: "db" } })).toEqual([]);
      });

      test("ListContainers filters by id, prefix, pod, state and labels", async () => {
        const p1 = await runPod("cfilter-1");
        const p2 = await runPod("cfilter-2");
        const running = await createIn(p1, "run", longRunning, { labels: { role: "server" } });
        await runtime.startContainer({ containerId: running });
        const created = await createIn(p1, "made", longRunning, { labels: { role: "sidecar" } });
        const other = await createIn(p2, "other", longRunning, { labels: { role: "server" } });
        const scope = { [TEST_LABEL]: currentTest };
        const ids = async (filter: object) =>
          (await runtime.listContainers({ filter: { labelSelector: scope, ...filter } })).containers
            .map((c) => c.id)
            .sort();

        expect(await ids({})).toEqual([running, created, other].sort());
        expect(await ids({ id: created })).toEqual([created]);
        expect(await ids({ id: running.slice(0, 16) })).toEqual([running]);
        expect(await ids({ podSandboxId: p1 })).toEqual([running, created].sort());
        expect(await ids({ podSandboxId: p2.slice(0, 16) })).toEqual([other]);
        expect(await ids({ podSandboxId: randomHex() })).toEqual([]);
        expect(await ids({ state: { state: "CONTAINER_RUNNING" } })).toEqual([running]);
        expect(await ids({ state: { state: "CONTAINER_CREATED" } })).toEqual([created, other].sort());
        expect(await ids({ labelSelector: { ...scope, role: "server" } })).toEqual([running, other].sort());
        expect(await ids({ podSandboxId: p1, labelSelector: { ...scope, role: "server" } })).toEqual([
          running,
        ]);
        const listed = (await runtime.listContainers({ filter: { id: running } })).containers[0];
        expect(listed).toMatchObject({
          podSandboxId: p1,
          state: "CONTAINER_RUNNING",
          metadata: { name: "run" },
        });
        expect(listed?.imageRef).not.toBe("");
        // kubelet's image GC matches a listed container's image_ref against ListImages' ids.
        expect(listed?.imageRef).toBe(listed?.imageId);
      });
    });

    describe("events", () => {
      /** Subscribes and proves delivery with a probe pod (transports may subscribe asynchronously). */
      const subscribe = async (): Promise<EventCollector> => {
        for (let attempt = 0; attempt < 20; attempt++) {
          const collector = collectEvents(runtime);
          const probe = await runPod(`probe-${attempt}`);
          let seen = false;
          for (let i = 0; i < 100 && !seen; i++) {
            seen = collector.events.some((e) => e.containerId === probe);
            if (!seen) await sleep(20);
          }
          await runtime.removePodSandbox({ podSandboxId: probe });
          if (seen) return collector;
          await collector.stop();
        }
        throw new Error("GetContainerEvents delivered no event for 20 probe pods");
      };

      test("GetContainerEvents streams CREATED, STARTED, STOPPED and DELETED", async () => {
        const collector = await subscribe();
        try {
          const pod = await runPod("events");
          const id = await runContainer(pod, "c");
          await runtime.stopContainer({ containerId: id, timeout: 0 });
          await runtime.removeContainer({ containerId: id });
          const mine = await eventually(async () => {
            const list = collector.events.filter((e) => e.containerId === id);
            return list.length >= 4 ? list : undefined;
          });
          expect(mine.map((e) => e.containerEventType)).toEqual([
            "CONTAINER_CREATED_EVENT",
            "CONTAINER_STARTED_EVENT",
            "CONTAINER_STOPPED_EVENT",
            "CONTAINER_DELETED_EVENT",
          ]);
          expect(mine[0]?.podSandboxStatus?.id).toBe(pod);
          expect(mine[0]?.containersStatuses.map((s) => s.id)).toContain(id);
          expect(mine[2]?.containersStatuses.find((s) => s.id === id)?.state).toBe("CONTAINER_EXITED");
          for (const e of mine) expect(e.createdAt > 0n).toBe(true);
        } finally {
          await collector.stop();
        }
      });

      test("an exit the runtime notices by itself is a STOPPED event", async () => {
        const collector = await subscribe();
        try {
          const pod = await runPod("events-exit");
          const id = await runContainer(pod, "c", exitWith(2));
          const stopped = await eventually(async () =>
            collector.events.find(
              (e) => e.containerId === id && e.containerEventType === "CONTAINER_STOPPED_EVENT",
            ),
          );
          expect(stopped.containersStatuses.find((s) => s.id === id)?.exitCode).toBe(2);
        } finally {
          await collector.stop();
        }
      });

      test("every subscriber receives every event", async () => {
        const one = await subscribe();
        const two = await subscribe();
        try {
          const pod = await runPod("events-fanout");
          for (const c of [one, two]) {
            await eventually(async () => (c.events.some((e) => e.containerId === pod) ? true : undefined));
          }
        } finally {
          await one.stop();
          await two.stop();
        }
      });
    });

    describe("restart", () => {
      test("state survives a restart: READY pod, RUNNING, EXITED and CREATED containers", async (skipTest) => {
        if (!target.restart) return skipTest();
        const pod = await runPod("restart");
        const running = await runContainer(pod, "running");
        const exited = await runContainer(pod, "exited", exitWith(5));
        await waitForContainerState(runtime, exited, "CONTAINER_EXITED");
        const created = await createIn(pod, "created");
        const before = await runtime.podSandboxStatus({ podSandboxId: pod });

        runtime = await target.restart();

        const after = await runtime.podSandboxStatus({ podSandboxId: pod });
        expect(after.status.state).toBe("SANDBOX_READY");
        expect(after.status.createdAt).toBe(before.status.createdAt);
        const state = async (id: string) => (await runtime.containerStatus({ containerId: id })).status;
        expect((await state(running)).state).toBe("CONTAINER_RUNNING");
        expect((await state(exited)).exitCode).toBe(5);
        expect((await state(exited)).state).toBe("CONTAINER_EXITED");
        expect((await state(created)).state).toBe("CONTAINER_CREATED");
        // Names stay reserved across the restart.
        await expectCode(createIn(pod, "running"), "AlreadyExists", running);
        // And everything still works.
        await runtime.startContainer({ containerId: created });
        await runtime.stopContainer({ containerId: running, timeout: 0 });
        expect((await state(running)).exitCode).toBe(killedExitCode);
      });
    });
  });
}
