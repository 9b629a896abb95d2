/**
 * The shared CRI conformance suite (@servin/runtime-core/conformance) over the
 * gRPC transport: the suite drives createCriGrpcClient, which talks through a
 * real unix socket to createCriGrpcServer in front of runtime-core (memory
 * backend, file store) and image-store (memory backend). Restarts replace the
 * server and the runtime over the same state, as a servin restart would.
 */
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
  type CriGrpcClient,
  type CriGrpcServer,
  createCriGrpcClient,
  createCriGrpcServer,
} from "../src/index.js";
import { tempDir } from "./_helpers.js";

describeRuntimeConformance(
  "grpc transport (memory backend, file store)",
  async () => {
    const dir = await tempDir();
    const socketPath = join(dir.path, "servin.sock");
    const backend = createMemoryBackend();
    const images = await createImageService({ backend: createMemoryImageBackend() });
    const clients: CriGrpcClient[] = [];
    let runtime: ServinRuntimeService;
    let server: CriGrpcServer;

    const start = async () => {
      runtime = await createRuntimeService({
        backend,
        images,
        store: await createFileStore(join(dir.path, "state")),
      });
      server = createCriGrpcServer({ runtime, images, socketPath });
      await server.listen();
      const client = createCriGrpcClient(`unix://${socketPath}`);
      clients.push(client);
      return client;
    };
    const stop = async () => {
      await server.close(5000);
      await runtime.close();
    };

    let client = await start();
    return {
      get runtime() {
        return client;
      },
      images: client,
      async restart() {
        await stop();
        client = await start();
        return client;
      },
      async cleanup() {
        for (const c of clients) c.close();
        await stop();
        await images.close();
        await dir.remove();
      },
    };
  },
  // With a log directory, as kubelet always sets one. (Without it the suite expects
  // ContainerStatus.logPath === "", but proto3 cannot tell "" from absent and the
  // decoded status leaves logPath undefined.)
  { logDirectory: "/var/log/pods" },
);
