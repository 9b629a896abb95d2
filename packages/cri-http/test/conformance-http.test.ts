/**
 * The shared CRI conformance suite (@servin/runtime-core/conformance) over the
 * HTTP/JSON transport: the suite drives createCriClient, which talks over real
 * HTTP on 127.0.0.1 to createCriApp in front of runtime-core (memory backend,
 * file store) and image-store (memory backend). Restarts replace the server and
 * the runtime over the same state, as a servin restart would.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createImageService, createMemoryImageBackend } from "@servin/image-store";
import {
  createFileStore,
  createMemoryBackend,
  createRuntimeService,
  type ServinRuntimeService,
} from "@servin/runtime-core";
import { describeRuntimeConformance } from "@servin/runtime-core/conformance";
import {
  type CriClient,
  createCriApp,
  createCriClient,
  type ListeningServer,
  listenCriApp,
} from "../src/index.js";

describeRuntimeConformance(
  "http transport (memory backend, file store)",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-http-conf-"));
    const backend = createMemoryBackend();
    const images = await createImageService({ backend: createMemoryImageBackend() });
    let runtime: ServinRuntimeService;
    let server: ListeningServer;
    let client: CriClient;

    const start = async () => {
      runtime = await createRuntimeService({
        backend,
        images,
        store: await createFileStore(join(dir, "state")),
      });
      server = await listenCriApp(createCriApp({ runtime, images }), { host: "127.0.0.1", port: 0 });
      client = createCriClient({ baseUrl: server.url });
      return client;
    };
    const stop = async () => {
      await server.close();
      await runtime.close();
    };

    await start();
    return {
      get runtime() {
        return client;
      },
      get images() {
        return client;
      },
      async restart() {
        await stop();
        return start();
      },
      async cleanup() {
        await stop();
        await images.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { logDirectory: "/var/log/pods" },
);
