/** A MetadataStore held in memory: for tests and embedders that need no persistence. */
import type { ContainerId, SandboxId } from "@servin/cri-types";
import type { MetadataStore, StoredContainer, StoredSandbox } from "./types.js";

/**
 * Keeps deep copies of every object, so callers can never mutate stored state
 * by accident. Data survives `close()`: a second service created over the same
 * store sees it, which lets tests simulate a restart without a disk.
 *
 * @example
 * const store = createMemoryStore();
 * const runtime = await createRuntimeService({ backend: createMemoryBackend(), images, store });
 */
export function createMemoryStore(): MetadataStore {
  const sandboxes = new Map<SandboxId, StoredSandbox>();
  const containers = new Map<ContainerId, StoredContainer>();
  return {
    async load() {
      return {
        sandboxes: [...sandboxes.values()].map((s) => structuredClone(s)),
        containers: [...containers.values()].map((c) => structuredClone(c)),
      };
    },
    async putSandbox(entry) {
      sandboxes.set(entry.metadata.id, structuredClone(entry));
    },
    async deleteSandbox(id) {
      sandboxes.delete(id);
    },
    async putContainer(entry) {
      containers.set(entry.metadata.id, structuredClone(entry));
    },
    async deleteContainer(id) {
      containers.delete(id);
    },
    async close() {},
  };
}
