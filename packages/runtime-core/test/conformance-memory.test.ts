/** The shared CRI conformance suite over the memory backend, in process, with a file store (restart included). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeRuntimeConformance } from "@servin/runtime-core/conformance";
import { fakeImages } from "../src/_test-harness.js";
import { createFileStore, createMemoryBackend, createRuntimeService } from "../src/index.js";

describeRuntimeConformance(
  "memory backend, file store",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-conformance-"));
    const backend = createMemoryBackend();
    const images = fakeImages();
    const open = async () => createRuntimeService({ backend, images, store: await createFileStore(dir) });
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
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { logDirectory: "/var/log/pods" },
);
