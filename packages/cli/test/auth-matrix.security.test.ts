/**
 * Issue 14 #3, the auth matrix: every HTTP route of the app's own route table, and every gRPC method
 * over TCP, called against a real daemon by a root-owned client and by uid 65534 (setpriv), without and
 * with a token. A non-root local user must never drive the API without the token.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { criServiceDefinitions } from "@servin/cri-grpc";
import { createCriApp } from "@servin/cri-http";
import { createImageService, createMemoryImageBackend } from "@servin/image-store";
import { silentLogger } from "@servin/node-kit";
import { createMemoryBackend, createMemoryStore, createRuntimeService } from "@servin/runtime-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig, type ServinConfig } from "../src/config/config.js";
import { type ServinDaemon, startServinDaemon } from "../src/daemon/daemon.js";

const root = process.getuid?.() === 0;
const OK = 0;
const PERMISSION_DENIED = 7;
const UNAUTHENTICATED = 16;
const TOKEN = "matrix-token-0123456789";

/** Every route the app serves when all its optional parts are on, read from Hono's route table. */
async function allRoutes(): Promise<Array<{ method: string; path: string }>> {
  const images = await createImageService({ backend: createMemoryImageBackend() });
  const runtime = await createRuntimeService({
    backend: createMemoryBackend(),
    images,
    store: createMemoryStore(),
  });
  const app = createCriApp({
    runtime,
    images,
    metrics: async () => ({ contentType: "text/plain", body: "" }),
    imageTransfer: { importImage: async () => [], exportImage: async () => (async function* () {})() },
  });
  const seen = new Map<string, { method: string; path: string }>();
  for (const r of app.routes)
    if (r.method !== "ALL" && r.path !== "*")
      seen.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
  await runtime.close();
  await images.close();
  return [...seen.values()];
}

/** Every method of both services, both API versions, as gRPC paths. */
function allGrpcMethods(): Array<{ path: string; stream: boolean }> {
  const out: Array<{ path: string; stream: boolean }> = [];
  for (const version of ["v1", "v1alpha2"] as const)
    for (const service of Object.values(criServiceDefinitions(version)))
      for (const m of Object.values(service as Record<string, { path: string; responseStream: boolean }>))
        out.push({ path: m.path, stream: m.responseStream });
  return out;
}

/**
 * The client, run as a separate process (so it can run as another uid): calls every route and method
 * once and prints `{ http: { "POST /x": status }, grpc: { "/pkg.S/M": code } }`.
 */
const CLIENT = `
const [cfg] = process.argv.slice(1).map((a) => JSON.parse(a));
const http2 = require("node:http2");
(async () => {
  const http = {};
  for (const r of cfg.routes) {
    const ac = new AbortController();
    const headers = { "content-type": "application/json" };
    if (cfg.token) headers.authorization = "Bearer " + cfg.token;
    const res = await fetch(cfg.base + r.path, {
      method: r.method, headers, body: r.method === "POST" ? "{}" : undefined, signal: ac.signal,
    });
    http[r.method + " " + r.path] = res.status;
    ac.abort();
  }
  const out = {};
  if (cfg.grpcTarget) {
    // Plain HTTP/2 gRPC framing with Node's own http2: the client needs nothing from the repository,
    // which uid 65534 may not be able to read (a clone under a 0700 directory).
    const session = http2.connect("http://" + cfg.grpcTarget);
    session.on("error", () => {});
    for (const m of cfg.methods) {
      out[m.path] = await new Promise((done) => {
        const headers = { ":method": "POST", ":path": m.path, "content-type": "application/grpc", te: "trailers" };
        if (cfg.token) headers.authorization = "Bearer " + cfg.token;
        const req = session.request(headers);
        let status;
        const timer = setTimeout(() => { status = 4; req.close(); }, 10000); // DEADLINE_EXCEEDED, as grpc-js
        const take = (h) => { if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]); };
        req.on("response", take);
        req.on("trailers", take);
        req.on("data", () => {});
        req.on("error", () => {});
        req.on("close", () => { clearTimeout(timer); done(status ?? 2); });
        req.end(Buffer.alloc(5)); // one empty, length-prefixed message
      });
    }
    session.close();
  }
  process.stdout.write(JSON.stringify({ http, grpc: out }));
})().catch((e) => { console.error(e); process.exit(2); });
`;

interface Answers {
  http: Record<string, number>;
  grpc: Record<string, number>;
}

function runClient(
  as: "root" | "nobody",
  cfg: { base: string; routes: unknown; grpcTarget?: string; methods?: unknown; token?: string },
): Promise<Answers> {
  const node = [process.execPath, "-e", CLIENT, JSON.stringify(cfg)];
  const [cmd, ...args] =
    as === "nobody" ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) =>
      code === 0 ? resolve(JSON.parse(out) as Answers) : reject(new Error(`client exited ${code}: ${err}`)),
    );
  });
}

async function startDaemon(dir: string, extra: Partial<ServinConfig> = {}): Promise<ServinDaemon> {
  return startServinDaemon(
    {
      ...defaultConfig(),
      host: "127.0.0.1",
      port: 0,
      backend: "memory",
      imageBackend: "disk",
      root: join(dir, "data"),
      stateDir: join(dir, "run"),
      grpcSocket: join(dir, "run", "grpc.sock"),
      grpcTcp: "127.0.0.1:0",
      ...extra,
    },
    silentLogger,
  );
}

describe.skipIf(!root)("auth matrix: every route, root and uid 65534, without and with a token", () => {
  let dir: string;
  let routes: Array<{ method: string; path: string }>;
  const methods = allGrpcMethods();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-auth-matrix-"));
    routes = await allRoutes();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("lists the routes from the app itself (CRI routes, extensions, /health, /metrics)", () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    expect(keys).toContain("GET /health");
    expect(keys).toContain("GET /metrics");
    expect(keys).toContain("POST /v1/servin/image/import");
    expect(keys).toContain("POST /v1/servin/image/export");
    expect(keys).toContain("POST /v1/runtime/sandbox/run");
    expect(routes.length).toBeGreaterThan(35);
    expect(methods.length).toBeGreaterThan(60);
  });

  describe("without a token: the kernel's word on who owns the client socket", () => {
    let daemon: ServinDaemon;
    let cfg: { base: string; routes: unknown; grpcTarget: string; methods: unknown };
    beforeAll(async () => {
      daemon = await startDaemon(join(dir, "open"));
      cfg = {
        base: daemon.http.url,
        routes,
        grpcTarget: `127.0.0.1:${daemon.grpc!.tcpPort}`,
        methods,
      };
    });
    afterAll(() => daemon?.close());

    it("admits a root-owned client on every HTTP route, and its gRPC calls", async () => {
      const a = await runClient("root", {
        ...cfg,
        methods: methods.filter((m) => !m.stream && m.path.endsWith("/Version")),
      });
      for (const [route, status] of Object.entries(a.http)) expect([401, 403], route).not.toContain(status);
      expect(a.http["GET /health"]).toBe(200);
      expect(a.http["POST /v1/runtime/version"]).toBe(200);
      expect(a.http["GET /metrics"]).toBe(200);
      for (const [method, code] of Object.entries(a.grpc)) expect(code, method).toBe(OK);
    });

    it("answers uid 65534 403 on every route but /health, and PERMISSION_DENIED on every gRPC method", async () => {
      const a = await runClient("nobody", cfg);
      expect(Object.keys(a.http)).toHaveLength(routes.length);
      for (const [route, status] of Object.entries(a.http))
        expect(status, route).toBe(route === "GET /health" ? 200 : 403);
      expect(Object.keys(a.grpc)).toHaveLength(methods.length);
      for (const [method, code] of Object.entries(a.grpc)) expect(code, method).toBe(PERMISSION_DENIED);
    });

    it("also when uid 65534 sends a made-up token (there is none to match)", async () => {
      const a = await runClient("nobody", { ...cfg, token: "guess" });
      expect(Object.keys(a.http)).toHaveLength(routes.length);
      for (const [route, status] of Object.entries(a.http))
        expect(status, route).toBe(route === "GET /health" ? 200 : 403);
      expect(Object.keys(a.grpc)).toHaveLength(methods.length);
      for (const [method, code] of Object.entries(a.grpc)) expect(code, method).toBe(PERMISSION_DENIED);
    });
  });

  describe("with --token-file: the token is the only key, for root too", () => {
    let daemon: ServinDaemon;
    let cfg: { base: string; routes: unknown; grpcTarget: string; methods: unknown };
    beforeAll(async () => {
      const tokenFile = join(dir, "token.txt");
      await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
      daemon = await startDaemon(join(dir, "token"), { tokenFile });
      cfg = { base: daemon.http.url, routes, grpcTarget: `127.0.0.1:${daemon.grpc!.tcpPort}`, methods };
    });
    afterAll(() => daemon?.close());

    it("answers 401 / UNAUTHENTICATED without the token or with a wrong one, as root or uid 65534", async () => {
      for (const [as, token] of [
        ["root", undefined],
        ["root", `${TOKEN}x`],
        ["nobody", undefined],
        ["nobody", TOKEN.slice(0, -1)],
      ] as const) {
        const a = await runClient(as, { ...cfg, ...(token ? { token } : {}) });
        for (const [route, status] of Object.entries(a.http))
          expect(status, `${as} ${token} ${route}`).toBe(route === "GET /health" ? 200 : 401);
        for (const [method, code] of Object.entries(a.grpc))
          expect(code, `${as} ${method}`).toBe(UNAUTHENTICATED);
      }
    });

    it("admits the right token from any local user", async () => {
      const a = await runClient("nobody", {
        ...cfg,
        token: TOKEN,
        methods: methods.filter((m) => !m.stream && m.path.endsWith("/Version")),
      });
      for (const [route, status] of Object.entries(a.http)) expect([401, 403], route).not.toContain(status);
      expect(a.http["POST /v1/runtime/version"]).toBe(200);
      for (const [method, code] of Object.entries(a.grpc)) expect(code, method).toBe(OK);
    });
  });

  it("refuses to listen beyond loopback without a token (HTTP and gRPC TCP)", async () => {
    await expect(startDaemon(join(dir, "wide"), { host: "0.0.0.0", grpcTcp: "" })).rejects.toThrow(
      "--host 0.0.0.0: listening beyond loopback requires --token-file",
    );
    await expect(startDaemon(join(dir, "wide2"), { grpcTcp: "0.0.0.0:0" })).rejects.toThrow(
      "--grpc-tcp 0.0.0.0:0: listening beyond loopback requires --token-file",
    );
  });
});
