/** Real memory-backed services for the HTTP tests (runtime-core + image-store memory backends). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImageService, createMemoryImageBackend } from "@servin/image-store";
import { createFileStore, createMemoryBackend, createRuntimeService } from "@servin/runtime-core";

export async function memoryServices() {
  const dir = await mkdtemp(join(tmpdir(), "servin-http-"));
  const images = await createImageService({ backend: createMemoryImageBackend() });
  const runtime = await createRuntimeService({
    backend: createMemoryBackend(),
    images,
    store: await createFileStore(join(dir, "runtime")),
  });
  return {
    runtime,
    images,
    async cleanup() {
      await runtime.close();
      await images.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
