/** The shared CRI conformance suite over the memory backend, in process, with a file store (restart included). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeRuntimeConformance, restartableTarget } from "@servin/runtime-core/conformance";
import { fakeImages } from "../src/_test-harness.js";
import { createFileStore, createMemoryBackend, createRuntimeService } from "../src/index.js";

describeRuntimeConformance(
  "memory backend, file store",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-conformance-"));
    const backend = createMemoryBackend();
    const images = fakeImages();
    return restartableTarget(
      async () => createRuntimeService({ backend, images, store: await createFileStore(dir) }),
      () => rm(dir, { recursive: true, force: true }),
    );
  },
  { logDirectory: "/var/log/pods" },
);
