/** Test-only: the memory image backend with per-method overrides, and a pull that waits for a gate. */
import type { ImageId } from "@servin/cri-types";
import { sha256Digest } from "./_digest.js";
import type { ImageBackend, PullContext } from "./backend.js";
import { createMemoryImageBackend, type MemoryImageBackendOptions } from "./backends/memory.js";
import type { ImageReference } from "./reference.js";

/** The memory backend with some methods replaced (each override may call the original through `base`). */
export function memoryBackendWith(
  overrides: (base: ImageBackend) => Partial<ImageBackend>,
  opts: MemoryImageBackendOptions = {},
): ImageBackend {
  const base = createMemoryImageBackend(opts);
  return { ...base, ...overrides(base) };
}

/** A memory backend whose every pull of a reference yields a new image (a tag pushed again upstream). */
export function republishingBackend(): ImageBackend {
  let generation = 0;
  return memoryBackendWith((base) => ({
    async pull(ref, ctx) {
      const pulled = await base.pull(ref, ctx);
      generation++;
      const id = sha256Digest(`${pulled.record.id}:${generation}`) as ImageId;
      return { topDigest: sha256Digest(`${id}:manifest`), record: { ...pulled.record, id } };
    },
  }));
}

/** A memory backend whose pulls wait until `open()` (or their signal aborts), counting backend pulls. */
export function gatedBackend(): {
  backend: ImageBackend;
  pulls: ImageReference[];
  signals: AbortSignal[];
  open(): void;
} {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const pulls: ImageReference[] = [];
  const signals: AbortSignal[] = [];
  const backend = memoryBackendWith((base) => ({
    async pull(ref: ImageReference, ctx: PullContext) {
      pulls.push(ref);
      if (ctx.signal) signals.push(ctx.signal);
      ctx.onProgress?.({
        digest: "sha256:started",
        kind: "layer",
        total: 1,
        current: 0,
        status: "downloading",
      });
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(ctx.signal?.reason);
        ctx.signal?.addEventListener("abort", onAbort, { once: true });
        gate.then(() => {
          ctx.signal?.removeEventListener("abort", onAbort);
          resolve();
        });
      });
      return base.pull(ref, ctx);
    },
  }));
  return { backend, pulls, signals, open };
}
