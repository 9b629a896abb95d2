/** Peer admission over a real socket: decided once per connection, 403 with a way out, /health open. */
import { Agent, request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, type ListeningServer, listenCriApp, type TcpPeer } from "../src/index.js";
import { memoryServices } from "./_services.js";

let services: Awaited<ReturnType<typeof memoryServices>>;
beforeAll(async () => {
  services = await memoryServices();
});
afterAll(async () => {
  await services.cleanup();
});

function call(
  server: ListeningServer,
  agent: Agent,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      {
        method: opts.method ?? "POST",
        agent,
        headers: { "content-type": "application/json", ...opts.headers },
      },
      (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body, localPort: req.socket!.localPort! }));
      },
    );
    req.on("error", reject);
    req.end(opts.method === "GET" ? undefined : "{}");
  });
}

describe("trustPeer", () => {
  it("is asked once per connection with both ends of it, and admits or answers 403", async () => {
    const asked: TcpPeer[] = [];
    let verdict = true;
    const server = await listenCriApp(
      createCriApp({
        ...services,
        trustPeer: (peer) => {
          asked.push(peer);
          return verdict;
        },
        peerDeniedMessage: "ask the admin",
      }),
      { host: "127.0.0.1", port: 0 },
    );
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await call(server, keepAlive, "/v1/runtime/version");
      const second = await call(server, keepAlive, "/v1/runtime/status");
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(second.localPort).toBe(first.localPort);
      expect(asked).toEqual([
        {
          remoteAddress: "127.0.0.1",
          remotePort: first.localPort,
          localAddress: "127.0.0.1",
          localPort: server.port,
        },
      ]);

      // A new connection is asked afresh, whatever the previous verdicts were.
      verdict = false;
      const fresh = new Agent({ keepAlive: false });
      const denied = await call(server, fresh, "/v1/runtime/version");
      expect(denied.status).toBe(403);
      expect(JSON.parse(denied.body)).toEqual({
        error: { code: "PermissionDenied", message: "ask the admin" },
      });
      expect(asked).toHaveLength(2);
      expect((await call(server, fresh, "/health", { method: "GET" })).status).toBe(200);
      expect((await call(server, fresh, "/v1/nope")).status).toBe(403);
      // The admitted keep-alive connection keeps its own verdict.
      expect((await call(server, keepAlive, "/v1/runtime/version")).status).toBe(200);
    } finally {
      keepAlive.destroy();
      await server.close();
    }
  });

  it("denies when trustPeer throws, and when there is no socket to ask about (in-process requests)", async () => {
    const app = createCriApp({
      ...services,
      trustPeer: () => {
        throw new Error("lookup failed");
      },
    });
    expect((await app.request("/v1/runtime/version", { method: "POST", body: "{}" })).status).toBe(403);
    expect((await app.request("/health")).status).toBe(200);
    const server = await listenCriApp(app, { host: "127.0.0.1", port: 0 });
    try {
      expect((await call(server, new Agent(), "/v1/runtime/version")).status).toBe(403);
    } finally {
      await server.close();
    }
  });

  it("gives way to a configured token: then the token alone decides", async () => {
    const server = await listenCriApp(createCriApp({ ...services, token: "s3cret", trustPeer: () => true }), {
      host: "127.0.0.1",
      port: 0,
    });
    try {
      expect((await call(server, new Agent(), "/v1/runtime/version")).status).toBe(401);
      const ok = await call(server, new Agent(), "/v1/runtime/version", {
        headers: { authorization: "Bearer s3cret" },
      });
      expect(ok.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
