/** Test-only: a runtime over the memory backend and memory store, with a FAKE image resolver. */
import type {
  ContainerConfig,
  ImageId,
  ImageResolver,
  PodSandboxConfig,
  RuntimeImage,
  StringMap,
} from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import { createMemoryBackend, type MemoryBackend, type MemoryBackendOptions } from "./memory/backend.js";
import { createRuntimeService, type ServinRuntimeService } from "./service.js";
import { createMemoryStore } from "./store/memory.js";
import type { MetadataStore } from "./store/types.js";

export const BUSYBOX_ID = `sha256:${"b".repeat(64)}` as ImageId;
export const ALPINE_ID = `sha256:${"a".repeat(64)}` as ImageId;

/** A FAKE ImageResolver standing in for @servin/image-store: two known images, everything else NotFound. */
export function fakeImages(): ImageResolver & { calls: string[] } {
  const images: Record<string, RuntimeImage> = {
    "busybox:latest": {
      id: BUSYBOX_ID,
      ref: `docker.io/library/busybox@sha256:${"c".repeat(64)}`,
      repoTags: ["docker.io/library/busybox:latest"],
      repoDigests: [`docker.io/library/busybox@sha256:${"c".repeat(64)}`],
      config: { cmd: ["sh"] },
      layers: [],
    },
    "alpine:latest": {
      id: ALPINE_ID,
      ref: ALPINE_ID,
      repoTags: ["docker.io/library/alpine:latest"],
      repoDigests: [],
      config: { cmd: ["/bin/sh"], stopSignal: "SIGQUIT" },
      layers: [],
    },
  };
  const calls: string[] = [];
  return {
    calls,
    async resolveImage(ref) {
      calls.push(ref);
      const image = images[ref];
      if (!image) throw CriError.notFound(`no such image: ${ref}`);
      return structuredClone(image);
    },
  };
}

/** A logger that remembers warnings, so tests can assert that something was reported. */
export function recordingLogger(): Logger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    debug() {},
    info() {},
    warn(message) {
      warnings.push(message);
    },
    error(message) {
      errors.push(message);
    },
  };
}

export interface Harness {
  runtime: ServinRuntimeService;
  backend: MemoryBackend;
  store: MetadataStore;
  logger: ReturnType<typeof recordingLogger>;
  /** Closes the runtime and opens a new one over the same backend and store. */
  restart(): Promise<ServinRuntimeService>;
  close(): Promise<void>;
}

export async function createHarness(
  options: {
    /** Opens the store for each (re)start; default one memory store shared by all starts. */
    openStore?: () => Promise<MetadataStore>;
    backend?: MemoryBackendOptions;
    eventBufferSize?: number;
    ownedLogRoot?: string;
    /** PodSandboxStatus answers containers_statuses and timestamp (RuntimeServiceOptions.enablePodEvents). */
    enablePodEvents?: boolean;
  } = {},
): Promise<Harness> {
  const backend = createMemoryBackend(options.backend);
  const memory = createMemoryStore();
  const openStore = options.openStore ?? (async () => memory);
  const logger = recordingLogger();
  const images = fakeImages();
  const open = async () => {
    h.store = await openStore();
    return createRuntimeService({
      backend,
      images,
      store: h.store,
      logger,
      ...(options.eventBufferSize ? { eventBufferSize: options.eventBufferSize } : {}),
      ...(options.ownedLogRoot ? { ownedLogRoot: options.ownedLogRoot } : {}),
      ...(options.enablePodEvents !== undefined ? { enablePodEvents: options.enablePodEvents } : {}),
    });
  };
  const h = {
    backend,
    store: memory,
    logger,
    async restart() {
      await h.runtime.close();
      h.runtime = await open();
      return h.runtime;
    },
    close: () => h.runtime.close(),
  } as Harness;
  h.runtime = await open();
  return h;
}

let podCounter = 0;

export function podConfig(
  name = `pod-${++podCounter}`,
  extra: { labels?: StringMap; attempt?: number; uid?: string; logDirectory?: string } = {},
): PodSandboxConfig {
  return {
    metadata: { name, namespace: "default", uid: extra.uid ?? `uid-${name}`, attempt: extra.attempt ?? 0 },
    ...(extra.labels ? { labels: extra.labels } : {}),
    ...(extra.logDirectory ? { logDirectory: extra.logDirectory } : {}),
  };
}

export function containerConfig(
  name: string,
  extra: Partial<ContainerConfig> & { attempt?: number } = {},
): ContainerConfig {
  const { attempt, ...rest } = extra;
  return {
    metadata: { name, attempt: attempt ?? 0 },
    image: { image: "busybox:latest" },
    command: ["sleep", "3600"],
    ...rest,
  };
}
