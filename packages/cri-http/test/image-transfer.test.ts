/**
 * The import/export extension routes as HTTP: the archive is the request or response body, never a
 * path on the server. (The disk store behind them is exercised end to end in the cli daemon tests.)
 */
import { createHash } from "node:crypto";
import { CriError } from "@servin/cri-types";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, createCriClient, type ListeningServer, listenCriApp } from "../src/index.js";
import { memoryServices } from "./_services.js";

let services: Awaited<ReturnType<typeof memoryServices>>;
let server: ListeningServer;
const received: { bytes: number; sha: string; calls: number } = { bytes: 0, sha: "", calls: 0 };
const exported = Buffer.alloc(3 * 1024 * 1024 + 17, 7);

beforeAll(async () => {
  services = await memoryServices();
  const app = createCriApp({
    ...services,
    importLimit: 8 * 1024 * 1024,
    imageTransfer: {
      async importImage(archive) {
        received.calls++;
        const hash = createHash("sha256");
        let bytes = 0;
        for await (const chunk of archive) {
          hash.update(chunk);
          bytes += chunk.byteLength;
        }
        received.bytes = bytes;
        received.sha = hash.digest("hex");
        return [];
      },
      async exportImage(ref) {
        if (ref === "missing:v1") throw CriError.notFound(`image "${ref}" not found`);
        if (ref === "broken:v1")
          return (async function* () {
            yield Buffer.alloc(1024);
            throw new Error("disk gone");
          })();
        return (async function* () {
          for (let i = 0; i < exported.length; i += 65536) yield exported.subarray(i, i + 65536);
        })();
      },
    },
  });
  server = await listenCriApp(app, { host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await server.close();
  await services.cleanup();
});

const post = (path: string, init: RequestInit) => fetch(`${server.url}${path}`, { method: "POST", ...init });

describe("POST /v1/servin/image/import", () => {
  it("streams the request body to the store", async () => {
    const data = Buffer.alloc(5 * 1024 * 1024 + 3, 1);
    const cri = createCriClient({ baseUrl: server.url });
    async function* chunks() {
      for (let i = 0; i < data.length; i += 100_000) yield data.subarray(i, i + 100_000);
    }
    expect(await cri.importImage(chunks())).toEqual([]);
    expect(received.bytes).toBe(data.length);
    expect(received.sha).toBe(createHash("sha256").update(data).digest("hex"));
  });

  it("refuses a JSON body naming a host path (415), without reading anything", async () => {
    const calls = received.calls;
    const res = await post("/v1/servin/image/import", {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ path: "/etc/shadow" }),
    });
    expect(res.status).toBe(415);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("UnsupportedMediaType");
    expect(body.error.message).toContain("application/x-tar");
    expect(received.calls).toBe(calls);
  });

  it("caps the archive size: by Content-Length up front, and while streaming without one", async () => {
    const declared = await post("/v1/servin/image/import", {
      headers: { "content-type": "application/x-tar" },
      body: Buffer.alloc(8 * 1024 * 1024 + 1),
    });
    expect(declared.status).toBe(413);
    const cri = createCriClient({ baseUrl: server.url });
    async function* endless() {
      for (let i = 0; i < 200; i++) yield Buffer.alloc(64 * 1024);
    }
    await expect(cri.importImage(endless())).rejects.toMatchObject({
      message: "archive is larger than the limit of 8388608 bytes",
    });
  });
});

describe("POST /v1/servin/image/export", () => {
  it("answers the archive as an application/x-tar body", async () => {
    const res = await post("/v1/servin/image/export", { body: JSON.stringify({ image: "app:v1" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-tar");
    expect(Buffer.from(await res.arrayBuffer()).equals(exported)).toBe(true);

    const chunks: Uint8Array[] = [];
    for await (const c of await createCriClient({ baseUrl: server.url }).exportImage("app:v1"))
      chunks.push(c);
    expect(Buffer.concat(chunks).equals(exported)).toBe(true);
  });

  it("refuses a destination path (400) and answers an unknown image with 404 before any byte", async () => {
    const withPath = await post("/v1/servin/image/export", {
      body: JSON.stringify({ image: "app:v1", path: "/etc/cron.d/x" }),
    });
    expect(withPath.status).toBe(400);
    expect(((await withPath.json()) as { error: { message: string } }).error.message).toMatch(
      /^path: servin writes no files on its host/,
    );
    const missing = await post("/v1/servin/image/export", { body: JSON.stringify({ image: "missing:v1" }) });
    expect(missing.status).toBe(404);
    await expect(createCriClient({ baseUrl: server.url }).exportImage("missing:v1")).rejects.toMatchObject({
      code: "NotFound",
    });
  });

  it("breaks the response off when the store fails mid-way, so a short archive is never taken for whole", async () => {
    const tar = await createCriClient({ baseUrl: server.url }).exportImage("broken:v1");
    await expect(
      (async () => {
        for await (const _ of tar);
      })(),
    ).rejects.toThrow();
  });
});
