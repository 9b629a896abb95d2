/**
 * fakeRuntimeService: a small in-memory RuntimeService for the transport
 * tests, named as a fake. It keeps just enough CRI behaviour (states, prefix
 * lookups, filters, events, errors) to exercise the gRPC mapping; the real
 * behaviour lives in @servin/runtime-core and is tested there.
 */
import { randomBytes } from "node:crypto";
import {
  type CallOptions,
  type Container,
  type ContainerEventResponse,
  type ContainerEventType,
  type ContainerId,
  type ContainerStatus,
  CriError,
  type ImageResolver,
  nowNanos,
  type PodSandboxStatus,
  type RuntimeService,
  type SandboxId,
  type StringMap,
} from "@servin/cri-types";

const newId = () => randomBytes(32).toString("hex");

function byPrefix<T>(map: Map<string, T>, prefix: string, what: string): [string, T] {
  if (!prefix) throw CriError.invalidArgument(`${what} id: expected a non-empty string`);
  const hits = [...map.entries()].filter(([id]) => id.startsWith(prefix));
  if (hits.length === 0) throw CriError.notFound(`${what} "${prefix}" not found`);
  if (hits.length > 1) throw CriError.invalidArgument(`${what} id prefix "${prefix}" is ambiguous`);
  return hits[0]!;
}

const matchesLabels = (labels: StringMap | undefined, selector: StringMap | undefined) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

export interface FakeRuntime extends RuntimeService {
  /** Open GetContainerEvents subscriptions. */
  subscriberCount(): number;
}

export function fakeRuntimeService(images: ImageResolver): FakeRuntime {
  const pods = new Map<string, PodSandboxStatus>();
  const containers = new Map<string, ContainerStatus & { podSandboxId: SandboxId }>();
  const subscribers = new Set<(event: ContainerEventResponse) => void>();

  const emit = (id: string, type: ContainerEventType) => {
    const c = containers.get(id);
    const pod = c ? pods.get(c.podSandboxId) : undefined;
    const event: ContainerEventResponse = {
      containerId: id,
      containerEventType: type,
      createdAt: nowNanos(),
      ...(pod ? { podSandboxStatus: pod } : {}),
      containersStatuses: c ? [stripPod(c)] : [],
    };
    for (const deliver of subscribers) deliver(event);
  };
  const stripPod = ({ podSandboxId: _, ...status }: ContainerStatus & { podSandboxId: SandboxId }) => status;

  const service: FakeRuntime = {
    subscriberCount: () => subscribers.size,
    async version() {
      return { version: "0.1.0", runtimeName: "fake", runtimeVersion: "0.0.0", runtimeApiVersion: "v1" };
    },
    async status(req) {
      return {
        status: {
          conditions: [
            { type: "RuntimeReady", status: true, reason: "", message: "" },
            { type: "NetworkReady", status: true, reason: "", message: "" },
          ],
        },
        ...(req.verbose ? { info: { config: JSON.stringify({ backend: "fake" }) } } : {}),
      };
    },
    async runtimeConfig() {
      return { linux: { cgroupDriver: "CGROUPFS" } };
    },
    async updateRuntimeConfig() {
      return {};
    },
    async runPodSandbox(req) {
      const m = req.config?.metadata;
      if (!m?.name) throw CriError.invalidArgument("config.metadata.name: expected a non-empty string");
      for (const pod of pods.values()) {
        const p = pod.metadata;
        if (p.name === m.name && p.namespace === m.namespace && p.uid === m.uid && p.attempt === m.attempt) {
          throw CriError.alreadyExists(`pod sandbox name "${m.name}" is reserved for "${pod.id}"`);
        }
      }
      const id = newId() as SandboxId;
      pods.set(id, {
        id,
        metadata: m,
        state: "SANDBOX_READY",
        createdAt: nowNanos(),
        network: { ip: "10.88.0.2" },
        labels: req.config.labels ?? {},
        annotations: req.config.annotations ?? {},
        runtimeHandler: req.runtimeHandler ?? "",
      });
      return { podSandboxId: id };
    },
    async stopPodSandbox(req) {
      const [, pod] = byPrefix(pods, req.podSandboxId, "pod sandbox");
      for (const c of containers.values()) {
        if (c.podSandboxId === pod.id && c.state === "CONTAINER_RUNNING") {
          Object.assign(c, {
            state: "CONTAINER_EXITED",
            finishedAt: nowNanos(),
            exitCode: 137,
            reason: "Error",
          });
          emit(c.id, "CONTAINER_STOPPED_EVENT");
        }
      }
      pod.state = "SANDBOX_NOTREADY";
      return {};
    },
    async removePodSandbox(req) {
      const hit = [...pods.keys()].find((id) => id.startsWith(req.podSandboxId));
      if (!hit) return {}; // idempotent
      for (const [id, c] of containers) {
        if (c.podSandboxId === hit) {
          emit(id, "CONTAINER_DELETED_EVENT");
          containers.delete(id);
        }
      }
      pods.delete(hit);
      return {};
    },
    async podSandboxStatus(req) {
      const [, pod] = byPrefix(pods, req.podSandboxId, "pod sandbox");
      return { status: pod, ...(req.verbose ? { info: { info: JSON.stringify({ pid: 1 }) } } : {}) };
    },
    async listPodSandbox(req) {
      const f = req.filter;
      const items = [...pods.values()].filter(
        (p) =>
          (!f?.id || p.id.startsWith(f.id)) &&
          (!f?.state || p.state === f.state.state) &&
          matchesLabels(p.labels, f?.labelSelector),
      );
      return { items: items.map(({ network: _n, linux: _l, ...pod }) => pod) };
    },
    async createContainer(req) {
      const [, pod] = byPrefix(pods, req.podSandboxId, "pod sandbox");
      if (pod.state !== "SANDBOX_READY") {
        throw CriError.failedPrecondition(`pod sandbox "${pod.id}" is not ready`);
      }
      if (!req.config?.metadata?.name) {
        throw CriError.invalidArgument("config.metadata.name: expected a non-empty string");
      }
      const image = await images.resolveImage(req.config.image?.image ?? "");
      const id = newId() as ContainerId;
      containers.set(id, {
        id,
        podSandboxId: pod.id,
        metadata: req.config.metadata,
        state: "CONTAINER_CREATED",
        createdAt: nowNanos(),
        startedAt: 0n,
        finishedAt: 0n,
        exitCode: 0,
        image: req.config.image,
        imageRef: image.ref,
        imageId: image.id,
        labels: req.config.labels ?? {},
        annotations: req.config.annotations ?? {},
        logPath: `${pod.id}/${req.config.logPath ?? ""}`,
      });
      emit(id, "CONTAINER_CREATED_EVENT");
      return { containerId: id };
    },
    async startContainer(req) {
      const [id, c] = byPrefix(containers, req.containerId, "container");
      if (c.state !== "CONTAINER_CREATED") {
        throw CriError.failedPrecondition(`container "${id}" is ${c.state}, not CONTAINER_CREATED`);
      }
      Object.assign(c, { state: "CONTAINER_RUNNING", startedAt: nowNanos() });
      emit(id, "CONTAINER_STARTED_EVENT");
      return {};
    },
    async stopContainer(req) {
      const [id, c] = byPrefix(containers, req.containerId, "container");
      if (c.state === "CONTAINER_RUNNING") {
        Object.assign(c, {
          state: "CONTAINER_EXITED",
          finishedAt: nowNanos(),
          exitCode: 0,
          reason: "Completed",
        });
        emit(id, "CONTAINER_STOPPED_EVENT");
      }
      return {};
    },
    async removeContainer(req) {
      const hit = [...containers.keys()].find((id) => id.startsWith(req.containerId));
      if (!hit) return {};
      emit(hit, "CONTAINER_DELETED_EVENT");
      containers.delete(hit);
      return {};
    },
    async listContainers(req) {
      const f = req.filter;
      const list: Container[] = [...containers.values()]
        .filter(
          (c) =>
            (!f?.id || c.id.startsWith(f.id)) &&
            (!f?.podSandboxId || c.podSandboxId.startsWith(f.podSandboxId)) &&
            (!f?.state || c.state === f.state.state) &&
            matchesLabels(c.labels, f?.labelSelector),
        )
        .map((c) => ({
          id: c.id,
          podSandboxId: c.podSandboxId,
          metadata: c.metadata,
          image: c.image,
          imageRef: c.imageRef,
          state: c.state,
          createdAt: c.createdAt,
          labels: c.labels ?? {},
          annotations: c.annotations ?? {},
          ...(c.imageId ? { imageId: c.imageId } : {}),
        }));
      return { containers: list };
    },
    async containerStatus(req) {
      const [, c] = byPrefix(containers, req.containerId, "container");
      return {
        status: stripPod(c),
        ...(req.verbose ? { info: { info: JSON.stringify({ sandboxID: c.podSandboxId }) } } : {}),
      };
    },
    async execSync(req, opts?: CallOptions) {
      const [id, c] = byPrefix(containers, req.containerId, "container");
      if (c.state !== "CONTAINER_RUNNING")
        throw CriError.failedPrecondition(`container "${id}" is not running`);
      const [cmd, ...args] = req.cmd;
      if (cmd === "echo")
        return { stdout: Buffer.from(`${args.join(" ")}\n`), stderr: new Uint8Array(), exitCode: 0 };
      if (cmd === "fail") return { stdout: new Uint8Array(), stderr: Buffer.from("boom\n"), exitCode: 3 };
      if (cmd === "hang") {
        // Waits until the transport aborts the call (deadline or cancel), then reports why.
        await new Promise<void>((resolve) => opts?.signal?.addEventListener("abort", () => resolve()));
        throw opts?.signal?.reason;
      }
      return { stdout: new Uint8Array(), stderr: Buffer.from(`${cmd}: not found\n`), exitCode: 127 };
    },
    async *getContainerEvents(_req, opts?: CallOptions) {
      const queue: ContainerEventResponse[] = [];
      let wake: (() => void) | undefined;
      const deliver = (event: ContainerEventResponse) => {
        queue.push(event);
        wake?.();
      };
      subscribers.add(deliver);
      const signal = opts?.signal;
      const onAbort = () => wake?.();
      signal?.addEventListener("abort", onAbort);
      try {
        while (!signal?.aborted) {
          const event = queue.shift();
          if (event) yield event;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        subscribers.delete(deliver);
        signal?.removeEventListener("abort", onAbort);
      }
    },
    async podSandboxStats() {
      throw CriError.unimplemented("PodSandboxStats");
    },
    async listPodSandboxStats() {
      return { stats: [] };
    },
    async listPodSandboxMetrics() {
      return { podMetrics: [] };
    },
    async listMetricDescriptors() {
      return { descriptors: [] };
    },
    async portForward() {
      throw CriError.unimplemented("PortForward");
    },
    async updateContainerResources() {
      throw CriError.unimplemented("UpdateContainerResources");
    },
    async reopenContainerLog(req) {
      byPrefix(containers, req.containerId, "container");
      return {};
    },
    async exec() {
      throw CriError.unimplemented("Exec");
    },
    async attach() {
      throw CriError.unimplemented("Attach");
    },
    async containerStats() {
      throw CriError.unimplemented("ContainerStats");
    },
    async listContainerStats() {
      return { stats: [] };
    },
    async checkpointContainer() {
      throw CriError.unimplemented("CheckpointContainer");
    },
  };
  return service;
}
