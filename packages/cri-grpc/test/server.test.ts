/**
 * The gRPC server and client over a real unix socket, in process. Every
 * server runs the real services: @servin/runtime-core over its memory backend
 * and @servin/image-store's memory image service (_memory-services.ts). Error,
 * cancellation and shutdown tests override single methods (withOverrides) to
 * force the failures and delays they need; everything else stays real.
 */
import { spawn } from "node:child_process";
import { lstat, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { type ContainerEventResponse, CriError, type CriErrorCode, isCriError } from "@servin/cri-types";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type CriGrpcClient, createCriGrpcClient, createCriGrpcServer } from "../src/index.js";
import { rawServerStream, rawUnary, tempDir, until } from "./_helpers.js";
import {
  countingSubscribers,
  createMemoryServices,
  type MemoryServices,
  withOverrides,
} from "./_memory-services.js";

let dir: Awaited<ReturnType<typeof tempDir>>;
let services: MemoryServices;
let images: MemoryServices["images"];
/** The real runtime, counting open GetContainerEvents subscriptions (runtime-core subscribes at call time). */
let runtime: ReturnType<typeof countingSubscribers<MemoryServices["runtime"]>>;
let server: ReturnType<typeof createCriGrpcServer>;
let socketPath: string;
let target: string;
let cri: CriGrpcClient;
let alpha: CriGrpcClient;

beforeAll(async () => {
  dir = await tempDir();
  services = await createMemoryServices();
  images = services.images;
  runtime = countingSubscribers(services.runtime);
  server = createCriGrpcServer({
    runtime,
    images,
    socketPath: join(dir.path, "run", "servin", "servin.sock"),
    versionInfo: { runtimeName: "servin", runtimeVersion: "0.1.0" },
  });
  const address = await server.listen();
  socketPath = address.socketPath!;
  target = `unix://${socketPath}`;
  cri = createCriGrpcClient(target);
  alpha = createCriGrpcClient(target, { apiVersion: "v1alpha2" });
});

afterAll(async () => {
  cri?.close();
  alpha?.close();
  await server?.close(2000);
  await services?.close();
  await dir?.remove();
});

/** Verbose info maps carry JSON strings. */
function expectJsonInfo(info: Record<string, string> | undefined): void {
  expect(Object.keys(info ?? {}).length).toBeGreaterThan(0);
  for (const value of Object.values(info ?? {})) expect(() => JSON.parse(value)).not.toThrow();
}

async function expectCriError(promise: Promise<unknown>, code: CriErrorCode): Promise<CriError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCriError(err), `expected a CriError ${code}, got ${String(err)}`).toBe(true);
  expect((err as CriError).code).toBe(code);
  return err as CriError;
}

describe("socket", () => {
  it("creates the socket 0660 in a 0755 directory", async () => {
    expect((await stat(socketPath)).mode & 0o777).toBe(0o660);
    expect((await stat(join(dir.path, "run", "servin"))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dir.path, "run"))).mode & 0o777).toBe(0o755);
  });

  it("refuses a socket that a live server is accepting on, naming the path", async () => {
    const path = join(dir.path, "live.sock");
    const other = createServer(() => undefined);
    await new Promise<void>((resolve) => other.listen(path, resolve));
    try {
      const second = createCriGrpcServer({ runtime, images, socketPath: path });
      await expect(second.listen()).rejects.toThrow(`grpc socket "${path}" is in use by a live server`);
      expect((await lstat(path)).isSocket()).toBe(true); // left alone
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  it("refuses the socket of another servin gRPC server", async () => {
    const second = createCriGrpcServer({ runtime, images, socketPath });
    await expect(second.listen()).rejects.toThrow(/in use by a live server/);
    expect((await cri.version({})).runtimeName).toBe("servin");
  });

  it("replaces a stale socket left by a crashed process", async () => {
    const path = join(dir.path, "stale.sock");
    // A real crash: a process that listens on the path and is SIGKILLed leaves the file behind.
    const child = spawn(
      process.execPath,
      ["-e", `require("net").createServer().listen(${JSON.stringify(path)})`],
      {
        stdio: "ignore",
      },
    );
    await until(
      () =>
        lstat(path).then(
          (s) => s.isSocket(),
          () => false,
        ),
      "the child's socket",
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    expect((await lstat(path)).isSocket()).toBe(true);

    const replacement = createCriGrpcServer({ runtime, images, socketPath: path });
    await replacement.listen();
    const client = createCriGrpcClient(`unix://${path}`);
    try {
      expect((await client.version({})).runtimeApiVersion).toBe("v1");
    } finally {
      client.close();
      await replacement.close(1000);
    }
    await expect(lstat(path)).rejects.toThrow(/ENOENT/); // removed on close
  });

  it("refuses a path that is not a socket", async () => {
    const second = createCriGrpcServer({ runtime, images, socketPath: dir.path });
    await expect(second.listen()).rejects.toThrow(/exists and is not a socket/);
  });

  it("listens on TCP only when asked", async () => {
    const tcp = createCriGrpcServer({ runtime, images, socketPath: "", tcp: "127.0.0.1:0" });
    const address = await tcp.listen();
    expect(address.socketPath).toBeUndefined();
    expect(address.tcpPort).toBeGreaterThan(0);
    const client = createCriGrpcClient(`127.0.0.1:${address.tcpPort}`);
    try {
      expect((await client.version({})).runtimeName).toBe("servin");
    } finally {
      client.close();
      await tcp.close(1000);
    }
  });
});

describe("version and status", () => {
  it("answers runtimeApiVersion v1 on runtime.v1 and v1alpha2 on runtime.v1alpha2", async () => {
    expect(await cri.version({ version: "0.1.0" })).toEqual({
      version: "0.1.0",
      runtimeName: "servin",
      runtimeVersion: "0.1.0",
      runtimeApiVersion: "v1",
    });
    expect((await alpha.version({})).runtimeApiVersion).toBe("v1alpha2");
    const raw = await rawUnary(target, "RuntimeService", "Version", {}, "v1alpha2");
    expect(raw).toMatchObject({
      code: 0,
      response: { runtimeApiVersion: "v1alpha2", runtimeName: "servin" },
    });
  });

  it("reports Status with conditions and a verbose info map of JSON strings", async () => {
    const status = await cri.status({ verbose: true });
    // The memory backend answers NetworkReady over its fixed fake network.
    expect(status.status.conditions.map((c) => [c.type, c.status])).toEqual([
      ["RuntimeReady", true],
      ["NetworkReady", true],
    ]);
    expectJsonInfo(status.info);
  });
});

describe("pod and container lifecycle", () => {
  for (const api of ["v1", "v1alpha2"] as const) {
    it(`runs the full flow on runtime.${api}`, async () => {
      const c = api === "v1" ? cri : alpha;
      const { imageRef } = await c.pullImage({ image: { image: "busybox:latest" } });
      expect(imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);

      const podConfig = {
        metadata: { name: `web-${api}`, namespace: "default", uid: `uid-${api}`, attempt: 0 },
        hostname: "web",
        logDirectory: "/var/log/pods/web",
        labels: { app: "web", api },
        annotations: { "example.com/note": "kept as is" },
      };
      const { podSandboxId } = await c.runPodSandbox({ config: podConfig });
      expect(podSandboxId).toMatch(/^[0-9a-f]{64}$/);
      const podStatus = await c.podSandboxStatus({ podSandboxId: podSandboxId.slice(0, 8), verbose: true });
      expect(podStatus.status).toMatchObject({
        id: podSandboxId,
        state: "SANDBOX_READY",
        labels: podConfig.labels,
      });
      expect(podStatus.status.createdAt).toBeGreaterThan(0n);
      expect(typeof podStatus.status.createdAt).toBe("bigint");
      expectJsonInfo(podStatus.info);

      const { containerId } = await c.createContainer({
        podSandboxId,
        config: {
          metadata: { name: "app", attempt: 0 },
          image: { image: "busybox:latest" },
          command: ["sleep", "3600"],
          labels: { tier: "front" },
          logPath: "app/0.log",
        },
        sandboxConfig: podConfig,
      });
      const { containerId: otherId } = await c.createContainer({
        podSandboxId,
        config: { metadata: { name: "side" }, image: { image: "busybox:latest" }, labels: { tier: "back" } },
      });
      await c.startContainer({ containerId: containerId.slice(0, 12) });

      const all = await c.listContainers({ filter: { podSandboxId } });
      expect(all.containers.map((x) => x.id).sort()).toEqual([containerId, otherId].sort());
      const byPrefix = await c.listContainers({ filter: { id: containerId.slice(0, 10) } });
      expect(byPrefix.containers.map((x) => x.id)).toEqual([containerId]);
      const running = await c.listContainers({
        filter: { podSandboxId: podSandboxId.slice(0, 6), state: { state: "CONTAINER_RUNNING" } },
      });
      expect(running.containers.map((x) => [x.id, x.state])).toEqual([[containerId, "CONTAINER_RUNNING"]]);
      const back = await c.listContainers({ filter: { labelSelector: { tier: "back" }, podSandboxId } });
      expect(back.containers.map((x) => x.id)).toEqual([otherId]);
      expect(back.containers[0]?.createdAt).toBeGreaterThan(0n);

      const status = await c.containerStatus({ containerId: containerId.slice(0, 7) });
      expect(status.status).toMatchObject({ id: containerId, state: "CONTAINER_RUNNING" });
      expect(status.status.imageRef).toMatch(/busybox@sha256:[0-9a-f]{64}$/);
      expect(status.status.startedAt).toBeGreaterThan(0n);
      expect(status.status.finishedAt).toBe(0n);

      const echo = await c.execSync({ containerId, cmd: ["echo", "hello", "grpc"], timeout: 5 });
      expect(Buffer.from(echo.stdout).toString()).toBe("hello grpc\n");
      expect(echo.exitCode).toBe(0);
      const failed = await c.execSync({ containerId, cmd: ["sh", "-c", "exit 3"] });
      expect(failed.exitCode).toBe(3);

      await c.stopContainer({ containerId, timeout: 0 });
      const stopped = await c.containerStatus({ containerId });
      // timeout 0 is SIGKILL at once: 128 + 9.
      expect(stopped.status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 137, reason: "Error" });
      expect(stopped.status.finishedAt).toBeGreaterThanOrEqual(stopped.status.startedAt);
      await c.removeContainer({ containerId });
      await c.removeContainer({ containerId }); // idempotent
      await expectCriError(c.containerStatus({ containerId }), "NotFound");

      await c.stopPodSandbox({ podSandboxId });
      expect((await c.listPodSandbox({ filter: { id: podSandboxId } })).items[0]?.state).toBe(
        "SANDBOX_NOTREADY",
      );
      await c.removePodSandbox({ podSandboxId });
      expect((await c.listPodSandbox({ filter: { id: podSandboxId } })).items).toEqual([]);
      expect((await c.listContainers({ filter: { podSandboxId } })).containers).toEqual([]);
    });
  }

  it("serves the Stream* list variants as chunks of the list", async () => {
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "streamed", uid: "s" } },
    });
    try {
      const res = await rawServerStream(target, "RuntimeService", "StreamPodSandboxes", {
        filter: { id: podSandboxId },
      });
      expect(res.code).toBe(0);
      expect(res.messages).toHaveLength(1);
      expect((res.messages[0] as { podSandboxes: { id: string }[] }).podSandboxes.map((p) => p.id)).toEqual([
        podSandboxId,
      ]);
      // An empty list is no message at all ("at least one item per message").
      const none = await rawServerStream(target, "RuntimeService", "StreamContainers", {
        filter: { id: "ffff" },
      });
      expect(none).toMatchObject({ code: 0, messages: [] });
    } finally {
      await cri.removePodSandbox({ podSandboxId });
    }
  });
});

describe("images", () => {
  it("pulls, lists, inspects, measures and removes images", async () => {
    const { imageRef } = await cri.pullImage({ image: { image: "registry.local/tools:1.0" } });
    const listed = await cri.listImages({ filter: { image: { image: "registry.local/tools:1.0" } } });
    expect(listed.images.map((i) => i.id)).toEqual([imageRef]);
    expect(listed.images[0]?.repoTags).toContain("registry.local/tools:1.0");
    expect(listed.images[0]?.size).toBeGreaterThan(0);

    const status = await cri.imageStatus({ image: { image: "registry.local/tools:1.0" }, verbose: true });
    expect(status.image?.id).toBe(imageRef);
    expectJsonInfo(status.info);

    const fs = await cri.imageFsInfo({});
    expect(fs.imageFilesystems.length).toBeGreaterThan(0);

    await cri.removeImage({ image: { image: imageRef } });
    const gone = await cri.imageStatus({ image: { image: "registry.local/tools:1.0" } });
    expect(gone.image).toBeUndefined();
    await cri.removeImage({ image: { image: imageRef } }); // idempotent
  });
});

describe("GetContainerEvents", () => {
  it("streams lifecycle events to two subscribers until each cancels", async () => {
    const subscribe = (controller: AbortController) => {
      const seen: ContainerEventResponse[] = [];
      const done = (async () => {
        for await (const event of cri.getContainerEvents({}, { signal: controller.signal })) seen.push(event);
      })();
      return { seen, done };
    };
    const a = new AbortController();
    const b = new AbortController();
    const first = subscribe(a);
    const second = subscribe(b);
    // However this test ends, the streams must not outlive it.
    onTestFinished(() => {
      a.abort();
      b.abort();
    });
    await until(() => runtime.subscriberCount() === 2, "two event subscribers");

    const { podSandboxId } = await cri.runPodSandbox({ config: { metadata: { name: "events", uid: "e" } } });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox:latest" } },
    });
    await cri.startContainer({ containerId });
    await cri.stopContainer({ containerId });
    await cri.removeContainer({ containerId });
    await cri.removePodSandbox({ podSandboxId });

    const expected = [
      "CONTAINER_CREATED_EVENT",
      "CONTAINER_STARTED_EVENT",
      "CONTAINER_STOPPED_EVENT",
      "CONTAINER_DELETED_EVENT",
    ];
    for (const sub of [first, second]) {
      // Like containerd, the runtime also reports the sandbox's own lifecycle (containerId = the pod's ID).
      const ofContainer = () => sub.seen.filter((e) => e.containerId === containerId);
      await until(() => ofContainer().length >= 4, "four events of the container");
      const events = ofContainer();
      expect(events.map((e) => e.containerEventType)).toEqual(expected);
      expect(events[1]?.containersStatuses.find((s) => s.id === containerId)?.state).toBe(
        "CONTAINER_RUNNING",
      );
      expect(events[1]?.podSandboxStatus?.id).toBe(podSandboxId);
      expect(typeof events[0]?.createdAt).toBe("bigint");
    }

    a.abort();
    await first.done; // ends quietly on the client's cancel
    await until(() => runtime.subscriberCount() === 1, "the first subscription to end on the server");
    b.abort();
    await second.done;
    await until(() => runtime.subscriberCount() === 0, "no subscriptions left");
  });
});

describe("errors and cancellation", () => {
  const CODES: [CriErrorCode, number][] = [
    ["InvalidArgument", 3],
    ["NotFound", 5],
    ["AlreadyExists", 6],
    ["FailedPrecondition", 9],
    ["Unimplemented", 12],
    ["DeadlineExceeded", 4],
    ["Internal", 13],
    ["Unavailable", 14],
    ["Unauthenticated", 16],
    ["ResourceExhausted", 8],
    ["Aborted", 10],
  ];

  let errServices: MemoryServices;
  let errServer: ReturnType<typeof createCriGrpcServer>;
  let errTarget: string;
  let errClient: CriGrpcClient;
  const seenSignals: AbortSignal[] = [];

  beforeAll(async () => {
    errServices = await createMemoryServices();
    const real = errServices.runtime;
    errServer = createCriGrpcServer({
      runtime: withOverrides(real, {
        // The container ID names the error to throw: one RPC exercises the whole table.
        async reopenContainerLog(req) {
          if (req.containerId === "plain-error") throw new Error("disk on fire");
          throw new CriError(req.containerId as CriErrorCode, `forced ${req.containerId}`);
        },
        // Records the signal the transport hands over; `hang` waits until the transport aborts the
        // call (deadline or cancel) and reports why. Every other command runs for real.
        async execSync(req, opts) {
          if (opts?.signal) seenSignals.push(opts.signal);
          if (req.cmd[0] !== "hang") return real.execSync(req, opts);
          await new Promise<void>((resolve) => opts?.signal?.addEventListener("abort", () => resolve()));
          throw opts?.signal?.reason;
        },
      }),
      images: errServices.images,
      socketPath: join(dir.path, "errors.sock"),
    });
    errTarget = `unix://${(await errServer.listen()).socketPath}`;
    errClient = createCriGrpcClient(errTarget);
    await errClient.pullImage({ image: { image: "busybox:latest" } });
  });
  afterAll(async () => {
    errClient?.close();
    await errServer?.close(1000);
    await errServices?.close();
  });

  it.each(CODES)("maps CriError %s to gRPC status %i and back", async (code, grpcCode) => {
    const raw = await rawUnary(errTarget, "RuntimeService", "ReopenContainerLog", { containerId: code });
    expect(raw).toEqual({ code: grpcCode, details: `forced ${code}` });
    const err = await expectCriError(errClient.reopenContainerLog({ containerId: code }), code);
    expect(err.message).toBe(`forced ${code}`);
  });

  it("answers INTERNAL for a fault that is not a CriError", async () => {
    const raw = await rawUnary(errTarget, "RuntimeService", "ReopenContainerLog", {
      containerId: "plain-error",
    });
    expect(raw).toEqual({ code: 13, details: "disk on fire" });
  });

  it("answers UNIMPLEMENTED for CRI methods servin does not have, never a fake success", async () => {
    const raw = await rawUnary(errTarget, "RuntimeService", "UpdatePodSandboxResources", {
      podSandboxId: "x",
    });
    expect(raw.code).toBe(12);
    await expectCriError(errClient.portForward({ podSandboxId: "x" }), "Unimplemented");
  });

  it("maps domain errors of real RPCs: NotFound, AlreadyExists, FailedPrecondition, InvalidArgument", async () => {
    await expectCriError(errClient.containerStatus({ containerId: "0123" }), "NotFound");
    const config = { metadata: { name: "dup", namespace: "ns", uid: "1" } };
    const { podSandboxId } = await errClient.runPodSandbox({ config });
    await expectCriError(errClient.runPodSandbox({ config }), "AlreadyExists");
    const { containerId } = await errClient.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox:latest" } },
    });
    await expectCriError(errClient.execSync({ containerId, cmd: ["echo"] }), "FailedPrecondition");
    await expectCriError(
      errClient.createContainer({
        podSandboxId,
        config: { metadata: { name: "c2" }, image: { image: "never-pulled.local/x:1" } },
      }),
      "NotFound",
    );
    // An ambiguous ID prefix is the caller's mistake.
    await errClient.createContainer({
      podSandboxId,
      config: { metadata: { name: "c3" }, image: { image: "busybox:latest" } },
    });
    await expectCriError(errClient.containerStatus({ containerId: "" }), "InvalidArgument");
    await errClient.removePodSandbox({ podSandboxId });
  });

  it("answers INVALID_ARGUMENT naming the field when the request cannot be decoded", async () => {
    const raw = await rawUnary(errTarget, "RuntimeService", "RunPodSandbox", { runtimeHandler: "runc" });
    expect(raw.code).toBe(3);
    expect(raw.details).toMatch(/config/);
  });

  it("aborts the service's signal when the client cancels", async () => {
    const { podSandboxId } = await errClient.runPodSandbox({
      config: { metadata: { name: "cancel", uid: "c" } },
    });
    const { containerId } = await errClient.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox:latest" } },
    });
    await errClient.startContainer({ containerId });
    seenSignals.length = 0;
    const controller = new AbortController();
    const call = errClient.execSync({ containerId, cmd: ["hang"] }, { signal: controller.signal });
    await until(() => seenSignals.length === 1, "the call to reach the service");
    controller.abort();
    await expect(call).rejects.toThrow();
    await until(() => seenSignals[0]?.aborted === true, "the service's signal to abort");
    expect((seenSignals[0]!.reason as CriError).code).toBe("Aborted");
  });

  it("aborts the service's signal with DeadlineExceeded when the deadline passes", async () => {
    const list = await errClient.listContainers({ filter: { state: { state: "CONTAINER_RUNNING" } } });
    const containerId = list.containers[0]!.id;
    seenSignals.length = 0;
    const impatient = createCriGrpcClient(errTarget, { timeoutMs: 200 });
    try {
      await expectCriError(impatient.execSync({ containerId, cmd: ["hang"] }), "DeadlineExceeded");
      await until(() => seenSignals[0]?.aborted === true, "the service's signal to abort");
      expect((seenSignals[0]!.reason as CriError).code).toBe("DeadlineExceeded");
    } finally {
      impatient.close();
    }
  });
});

describe("graceful close", () => {
  it("finishes an in-flight call, refuses new ones, ends event streams and removes the socket", async () => {
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => (entered = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const own = await createMemoryServices();
    onTestFinished(() => own.close());
    const base = countingSubscribers(own.runtime);
    const path = join(dir.path, "graceful.sock");
    const s = createCriGrpcServer({
      runtime: withOverrides(base, {
        async status(req) {
          entered();
          await gate;
          return base.status(req);
        },
      }),
      images: own.images,
      socketPath: path,
    });
    await s.listen();
    const client = createCriGrpcClient(`unix://${path}`);
    try {
      const events = (async () => {
        const seen: unknown[] = [];
        for await (const e of client.getContainerEvents({})) seen.push(e);
        return seen;
      })().then(
        () => "ended",
        (err: unknown) => (isCriError(err) ? err.code : String(err)),
      );
      await until(() => base.subscriberCount() === 1, "the event subscription");

      const inFlight = client.status({});
      await reached;
      const closing = s.close(30_000);
      // The event stream is ended by the shutdown, not left to block it.
      expect(await events).toBe("Unavailable");
      await expectCriError(client.version({}), "Unavailable");
      release();
      expect((await inFlight).status.conditions).toHaveLength(2);
      await closing;
      await expect(lstat(path)).rejects.toThrow(/ENOENT/);
    } finally {
      client.close();
    }
  });

  it("cancels calls still running after the grace period", async () => {
    let serviceSignal: AbortSignal | undefined;
    const own = await createMemoryServices();
    onTestFinished(() => own.close());
    const path = join(dir.path, "forced.sock");
    const s = createCriGrpcServer({
      runtime: withOverrides(own.runtime, {
        async status(_req, opts) {
          serviceSignal = opts?.signal;
          await new Promise(() => undefined); // never answers
          throw new Error("unreachable");
        },
      }),
      images: own.images,
      socketPath: path,
    });
    await s.listen();
    const client = createCriGrpcClient(`unix://${path}`);
    try {
      const stuck = client.status({}).then(
        () => "answered",
        () => "failed",
      );
      await until(() => serviceSignal !== undefined, "the call to reach the service");
      await s.close(100);
      expect(serviceSignal?.aborted).toBe(true);
      expect(await stuck).toBe("failed");
    } finally {
      client.close();
    }
  });
});

describe("channelOptions", () => {
  const make = (channelOptions: Record<string, unknown>) =>
    createCriGrpcServer({
      runtime,
      images,
      socketPath: join(dir.path, "unused.sock"),
      channelOptions: channelOptions as never,
    });

  it("refuses an option the server does not honour, naming it and the ones it does", () => {
    expect(() => make({ "grpc.keepalive_permit_without_calls": 0 })).toThrow(
      /"grpc\.keepalive_permit_without_calls" is not supported \(supported: grpc\.max_receive_message_length, grpc\.max_send_message_length, grpc\.keepalive_time_ms, grpc\.keepalive_timeout_ms\)/,
    );
  });

  it("refuses a value that is not a whole number ≥ 0, naming the option and the value", () => {
    expect(() => make({ "grpc.keepalive_time_ms": "100" })).toThrow(
      /"grpc\.keepalive_time_ms" must be a whole number ≥ 0, got "100"/,
    );
    expect(() => make({ "grpc.max_receive_message_length": -1 })).toThrow(/got -1/);
    expect(() => make({ "grpc.keepalive_timeout_ms": 1.5 })).toThrow(/got 1\.5/);
  });

  it("takes the honoured ones", async () => {
    const s = make({ "grpc.keepalive_time_ms": 0, "grpc.max_send_message_length": 1024 });
    await s.close(0);
  });
});
