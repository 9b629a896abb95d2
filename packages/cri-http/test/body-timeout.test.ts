/** A body shorter than its Content-Length: answered 408 after the body timeout, and the socket is freed. */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, type ListeningServer, listenCriApp } from "../src/index.js";
import { memoryServices } from "./_services.js";

let services: Awaited<ReturnType<typeof memoryServices>>;
let server: ListeningServer;
let imported = 0;

beforeAll(async () => {
  services = await memoryServices();
  const app = createCriApp({
    ...services,
    bodyTimeoutMs: 300,
    imageTransfer: {
      async importImage(archive) {
        for await (const chunk of archive) imported += chunk.byteLength;
        return [];
      },
      async exportImage() {
        return (async function* () {})();
      },
    },
  });
  server = await listenCriApp(app, { host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await server.close();
  await services.cleanup();
});

/** Sends `head` and `body` on a raw socket and resolves with everything read once the server closes it. */
function rawExchange(head: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, "127.0.0.1");
    let answer = "";
    socket.on("data", (d) => (answer += d));
    socket.on("error", reject);
    // Resolving on close proves the server let go of the connection; a hang fails the test by its timeout.
    socket.on("close", () => resolve(answer));
    socket.write(head + body);
  });
}

describe("body read timeout", () => {
  it("answers 408 to a JSON body that never completes, and closes the connection", async () => {
    const answer = await rawExchange(
      "POST /v1/runtime/version HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
      '{"version":',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.toLowerCase()).toContain("connection: close");
    expect(answer).toContain('"code":"RequestTimeout"');
    expect(answer).toContain("request body: not received within 300 ms");
  });

  it("answers 408 to an import archive that stalls, and closes the connection", async () => {
    const answer = await rawExchange(
      "POST /v1/servin/image/import HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: 100000\r\n\r\n",
      "x".repeat(1000),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toContain("archive: no data received for 300 ms");
    expect(imported).toBe(1000);
  });

  it("still serves complete requests on a kept-alive connection", async () => {
    const body = "{}";
    const head = `POST /v1/runtime/version HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    expect(await rawExchange(head, body)).toMatch(/^HTTP\/1\.1 200 /);
  });
});
