import { describe, expect, it } from "vitest";
import { gatedBackend, memoryBackendWith } from "./_test-harness.js";
import type { ImageRecord } from "./backend.js";
import type { createMemoryImageBackend } from "./backends/memory.js";
import { createImageService } from "./service.js";

describe("createImageService", () => {
  it("takes any ImageBackend: records load from it and every change persists through it", async () => {
    const persisted: ImageRecord[][] = [];
    const backend = memoryBackendWith((base) => ({
      kind: "recording",
      async persist(records) {
        persisted.push(structuredClone(records));
        await base.persist(records);
      },
    }));
    const s = await createImageService({ backend });
    await s.pullImage({ image: { image: "alpine:3.19" } });
    await s.pullImage({ image: { image: "busybox" } });
    await s.removeImage({ image: { image: "alpine:3.19" } });
    expect(persisted.map((records) => records.flatMap((r) => r.repoTags))).toEqual([
      ["docker.io/library/alpine:3.19"],
      ["docker.io/library/alpine:3.19", "docker.io/library/busybox:latest"],
      ["docker.io/library/busybox:latest"],
    ]);
    // A new service over what was persisted (a restart, as over the disk backend) knows the image.
    const last = persisted.at(-1)!;
    const reloaded = await createImageService({
      backend: memoryBackendWith(() => ({ load: async () => last })),
    });
    expect((await reloaded.listImages({})).images.map((i) => i.repoTags)).toEqual([
      ["docker.io/library/busybox:latest"],
    ]);
    await Promise.all([s.close(), reloaded.close()]);
  });

  it("refuses something that is not a backend with InvalidArgument", async () => {
    await expect(
      createImageService({ backend: "memory" as unknown as ReturnType<typeof createMemoryImageBackend> }),
    ).rejects.toMatchObject({ code: "InvalidArgument", message: expect.stringContaining("backend:") });
  });

  it("answers Unavailable after close(), for every call; close() is idempotent and closes the backend once", async () => {
    let closes = 0;
    const s = await createImageService({
      backend: memoryBackendWith(() => ({
        async close() {
          closes++;
        },
      })),
    });
    await s.pullImage({ image: { image: "alpine" } });
    await s.close();
    await s.close();
    expect(closes).toBe(1);
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["ListImages", () => s.listImages({})],
      ["ImageStatus", () => s.imageStatus({ image: { image: "alpine" } })],
      ["PullImage", () => s.pullImage({ image: { image: "alpine" } })],
      ["RemoveImage", () => s.removeImage({ image: { image: "alpine" } })],
      ["ImageFsInfo", () => s.imageFsInfo({})],
      ["ResolveImage", () => s.resolveImage("alpine")],
      ["ImportImage", () => s.importImage("/nonexistent")],
      ["ExportImage", () => s.exportImage("alpine", "/nonexistent")],
      ["ExportImageStream", () => s.exportImageStream("alpine")],
    ];
    for (const [rpc, call] of calls) {
      // The message names the call (whatever its spelling) and says why.
      await expect(call(), rpc).rejects.toMatchObject({
        code: "Unavailable",
        message: expect.stringMatching(new RegExp(`^${rpc}: the image service is closed$`, "i")),
      });
    }
  });

  it("close() cancels a running pull with Unavailable and waits for it before closing the backend", async () => {
    const gated = gatedBackend();
    const order: string[] = [];
    const backend = { ...gated.backend, close: async () => void order.push("backend closed") };
    const s = await createImageService({ backend });
    const pull = s.pullImage({ image: { image: "alpine" } }).catch((err) => {
      order.push("pull settled");
      return err;
    });
    while (gated.pulls.length === 0) await new Promise((r) => setImmediate(r));
    await s.close();
    expect(await pull).toMatchObject({ code: "Unavailable", message: "the image service is closing" });
    expect(order).toEqual(["pull settled", "backend closed"]);
    expect(gated.signals[0]?.aborted).toBe(true);
  });

  it("maps an error that is not a CriError to Internal naming the RPC", async () => {
    const s = await createImageService({
      backend: memoryBackendWith(() => ({
        async fsInfo() {
          throw new Error("statfs exploded");
        },
      })),
    });
    await expect(s.imageFsInfo({})).rejects.toMatchObject({
      code: "Internal",
      message: expect.stringMatching(/^imagefsinfo: statfs exploded$/i),
    });
    await s.close();
  });
});
