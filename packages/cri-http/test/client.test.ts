import { isCriError } from "@servin/cri-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, createCriClient, type ListeningServer, listenCriApp } from "../src/index.js";
import { memoryServices } from "./_services.js";

let services: Awaited<ReturnType<typeof memoryServices>>;
let server: ListeningServer;

beforeAll(async () => {
  services = await memoryServices();
  server = await listenCriApp(
    createCriApp({ runtime: services.runtime, images: services.images, token: "t0ken" }),
    {
      host: "127.0.0.1",
      port: 0,
    },
  );
});
afterAll(async () => {
  await server.close();
  await services.cleanup();
});

describe("typed client over real HTTP", () => {
  it("drives a lifecycle and gets domain objects back", async () => {
    const cri = createCriClient({ baseUrl: server.url, token: "t0ken" });
    expect((await cri.health()).status).toBe("ok");
    expect((await cri.version({})).runtimeName).toBe("servin");
    await cri.pullImage({ image: { image: "busybox" } });
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "p", namespace: "n", uid: "u" } },
    });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox" } },
    });
    const { containers } = await cri.listContainers({ filter: { id: containerId.slice(0, 8) } });
    expect(containers).toHaveLength(1);
    expect(typeof containers[0]!.createdAt).toBe("bigint");
    await cri.removePodSandbox({ podSandboxId });
  });

  it("turns error answers back into CriErrors with their code", async () => {
    const cri = createCriClient({ baseUrl: server.url, token: "t0ken" });
    const err = await cri.containerStatus({ containerId: "0".repeat(64) }).catch((e: unknown) => e);
    expect(isCriError(err) && err.code).toBe("NotFound");
    const anon = createCriClient({ baseUrl: server.url });
    const denied = await anon.version({}).catch((e: unknown) => e);
    expect(isCriError(denied) && denied.code).toBe("Unauthenticated");
  });

  it("says clearly when the server is not reachable", async () => {
    const cri = createCriClient({ baseUrl: "http://127.0.0.1:1", timeoutMs: 2000 });
    const err = await cri.version({}).catch((e: unknown) => e);
    expect(isCriError(err) && err.code).toBe("Unavailable");
    expect((err as Error).message).toContain("cannot reach servin");
  });

  it("streams container events as NDJSON to the client", async () => {
    const cri = createCriClient({ baseUrl: server.url, token: "t0ken" });
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const event of cri.getContainerEvents({}, { signal: controller.signal })) {
        seen.push(event.containerEventType);
        if (seen.length >= 2) controller.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await cri.pullImage({ image: { image: "busybox" } });
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "ev", namespace: "n", uid: "u" } },
    });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox" } },
    });
    await cri.startContainer({ containerId });
    await reading;
    expect(seen).toEqual(["CONTAINER_CREATED_EVENT", "CONTAINER_STARTED_EVENT"]);
    await cri.removePodSandbox({ podSandboxId });
  });
});
