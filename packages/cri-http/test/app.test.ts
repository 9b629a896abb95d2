import { CriError, type ImageService, type RuntimeService, silentLogger } from "@servin/cri-types";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, criRoutes } from "../src/index.js";
import { memoryServices } from "./_services.js";

type Services = Awaited<ReturnType<typeof memoryServices>>;
let services: Services;
let app: ReturnType<typeof createCriApp>;
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
const j = (res: Response): Promise<any> => res.json();

const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

beforeAll(async () => {
  services = await memoryServices();
  app = createCriApp({ runtime: services.runtime, images: services.images });
});
afterAll(() => services.cleanup());

describe("the documented HTTP/JSON contract", () => {
  it("GET /health answers ok", async () => {
    const res = await app.request("/health");
    expect(res.status).toBe(200);
    expect(await j(res)).toMatchObject({ status: "ok" });
  });

  it("version is wrapped as the documented HTTP/JSON contract shows", async () => {
    const res = await post("/v1/runtime/version", {});
    expect(res.status).toBe(200);
    const body = await j(res);
    expect(body).toEqual({
      version: {
        version: "0.1.0",
        runtime_name: "servin",
        runtime_version: expect.any(String),
        runtime_api_version: "v1",
      },
    });
  });

  it("status lists truthful RuntimeReady and NetworkReady conditions", async () => {
    const body = await j(await post("/v1/runtime/status", {}));
    const types = body.status.conditions.map((c: { type: string }) => c.type);
    expect(types).toEqual(expect.arrayContaining(["RuntimeReady", "NetworkReady"]));
    for (const c of body.status.conditions) expect(typeof c.status).toBe("boolean");
  });

  it("runs the documented pod → container flow with its exact bodies", async () => {
    const pull = await post("/v1/image/pull", {
      image: { image: "alpine:latest" },
      auth: {},
      sandbox_config: {},
    });
    expect(pull.status).toBe(200);
    expect((await j(pull)).image_ref).toEqual(expect.any(String));

    const created = await post("/v1/runtime/sandbox/create", {
      config: {
        metadata: { name: "test-pod", namespace: "default" },
        hostname: "test-pod",
        log_directory: "/var/log/pods",
      },
    });
    expect(created.status).toBe(200);
    const { pod_sandbox_id } = await j(created);
    expect(pod_sandbox_id).toMatch(/^[0-9a-f]{64}$/);

    const list = await j(await post("/v1/runtime/sandbox/list", { filter: {} }));
    const item = list.items.find((i: { id: string }) => i.id === pod_sandbox_id);
    expect(item).toMatchObject({
      metadata: { name: "test-pod", namespace: "default" },
      state: "SANDBOX_READY",
    });
    expect(item.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

    const c = await post("/v1/runtime/container/create", {
      pod_sandbox_id,
      config: {
        metadata: { name: "test-container" },
        image: { image: "alpine:latest" },
        command: ["/bin/sh"],
        args: ["-c", "sleep 3600"],
      },
      sandbox_config: { metadata: { name: "test-pod", namespace: "default" } },
    });
    expect(c.status).toBe(200);
    const { container_id } = await j(c);
    expect((await post("/v1/runtime/container/start", { container_id })).status).toBe(200);

    const containers = (await j(await post("/v1/runtime/container/list", { filter: {} }))).containers;
    expect(containers.find((x: { id: string }) => x.id === container_id)).toMatchObject({
      pod_sandbox_id,
      metadata: { name: "test-container" },
      image: { image: "alpine:latest" },
      state: "CONTAINER_RUNNING",
      created_at: expect.any(String),
    });

    const images = (await j(await post("/v1/image/list", { filter: {} }))).images;
    expect(images[0]).toMatchObject({
      id: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      repo_tags: ["docker.io/library/alpine:latest"],
    });
    expect(typeof images[0].size).toBe("number");

    expect((await post("/v1/runtime/container/stop", { container_id, timeout: 1 })).status).toBe(200);
    expect((await post("/v1/runtime/container/remove", { container_id })).status).toBe(200);
    expect((await post("/v1/runtime/sandbox/stop", { pod_sandbox_id })).status).toBe(200);
    expect((await post("/v1/runtime/sandbox/remove", { pod_sandbox_id })).status).toBe(200);
  });

  it("accepts proto3 lowerCamelCase requests too", async () => {
    const res = await post("/v1/runtime/sandbox/run", {
      config: { metadata: { name: "camel", namespace: "default" }, logDirectory: "/tmp" },
    });
    expect(res.status).toBe(200);
    const { pod_sandbox_id: podSandboxId } = await j(res);
    const status = await post("/v1/runtime/sandbox/status", { podSandboxId });
    expect(status.status).toBe(200);
    expect((await post("/v1/runtime/sandbox/remove", { podSandboxId })).status).toBe(200);
  });

  it("an empty body counts as {}", async () => {
    const res = await app.request("/v1/runtime/version", { method: "POST" });
    expect(res.status).toBe(200);
    const list = await app.request("/v1/image/list", { method: "POST", body: "" });
    expect(list.status).toBe(200);
  });
});

describe("every route", () => {
  it("exists, answers POST, and refuses other methods with 405", async () => {
    for (const route of criRoutes) {
      const res = await post(route.path, {});
      expect([200, 400, 404, 409, 501], `${route.path} answered ${res.status}`).toContain(res.status);
      if (route.stream) await res.body?.cancel();
      const get = await app.request(route.path, { method: "GET" });
      expect(get.status, route.path).toBe(405);
      expect(get.headers.get("allow")).toBe("POST");
      expect((await j(get)).error.code).toBe("MethodNotAllowed");
    }
  });
});

describe("errors", () => {
  it("400 for invalid JSON, naming the problem", async () => {
    const res = await post("/v1/runtime/sandbox/create", "{not json");
    expect(res.status).toBe(400);
    const body = await j(res);
    expect(body.error.code).toBe("InvalidArgument");
    expect(body.error.message).toContain("invalid JSON");
  });

  it("400 for invalid fields, naming every field path", async () => {
    const res = await post("/v1/runtime/sandbox/create", {
      config: { metadata: { name: 5 }, labels: { a: 1 } },
    });
    expect(res.status).toBe(400);
    const body = await j(res);
    expect(body.error.message).toContain("config.metadata.name");
    expect(body.error.message).toContain("config.labels");
    expect(body.error.details).toBeDefined();
  });

  it("404 for unknown objects and unknown routes", async () => {
    const res = await post("/v1/runtime/container/status", { container_id: "f".repeat(64) });
    expect(res.status).toBe(404);
    expect((await j(res)).error).toMatchObject({
      code: "NotFound",
      message: expect.stringContaining("ffff"),
    });
    const route = await post("/v1/nope", {});
    expect(route.status).toBe(404);
  });

  it("409 for a duplicate sandbox name", async () => {
    const config = { metadata: { name: "dup", namespace: "default", uid: "u1" } };
    const first = await post("/v1/runtime/sandbox/create", { config });
    expect(first.status).toBe(200);
    const second = await post("/v1/runtime/sandbox/create", { config });
    expect(second.status).toBe(409);
    expect((await j(second)).error.code).toBe("AlreadyExists");
    await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: (await j(first)).pod_sandbox_id });
  });

  it("409 for a failed precondition (starting a container twice)", async () => {
    await post("/v1/image/pull", { image: { image: "busybox" } });
    const pod = (
      await j(
        await post("/v1/runtime/sandbox/create", { config: { metadata: { name: "pre", namespace: "x" } } }),
      )
    ).pod_sandbox_id;
    const created = await post("/v1/runtime/container/create", {
      pod_sandbox_id: pod,
      config: { metadata: { name: "c" }, image: { image: "busybox" } },
    });
    const ctr = (await j(created)).container_id;
    expect((await post("/v1/runtime/container/start", { container_id: ctr })).status).toBe(200);
    const again = await post("/v1/runtime/container/start", { container_id: ctr });
    expect(again.status).toBe(409);
    expect((await j(again)).error.code).toBe("FailedPrecondition");
    await post("/v1/runtime/sandbox/remove", { pod_sandbox_id: pod });
  });

  it("413 for a body over the limit", async () => {
    const small = createCriApp({ runtime: services.runtime, images: services.images, bodyLimit: 1024 });
    const res = await small.request("/v1/image/list", {
      method: "POST",
      body: JSON.stringify({ pad: "x".repeat(4096) }),
    });
    expect(res.status).toBe(413);
    expect((await j(res)).error.code).toBe("PayloadTooLarge");
  });

  it("501 for RPCs that are not implemented, never a fake success", async () => {
    const res = await post("/v1/runtime/container/checkpoint", { container_id: "abc" });
    expect([404, 501]).toContain(res.status);
    const attach = await post("/v1/runtime/sandbox/metrics", {});
    expect(attach.status).toBe(501);
    expect((await j(attach)).error.code).toBe("Unimplemented");
  });

  it("500 only for real internal faults, without leaking the stack", async () => {
    // A deliberately broken service (a fake: the real ones never throw raw errors).
    const broken = {
      ...services.runtime,
      version: async () => {
        throw new Error("disk on fire at /secret/path");
      },
    } as unknown as RuntimeService;
    const logged: unknown[] = [];
    const faulty = createCriApp({
      runtime: broken,
      images: services.images as ImageService,
      logger: { ...silentLogger, error: (...a: unknown[]) => logged.push(a) },
    });
    const res = await faulty.request("/v1/runtime/version", { method: "POST", body: "{}" });
    expect(res.status).toBe(500);
    const body = await j(res);
    expect(body.error).toEqual({ code: "Internal", message: "internal error" });
    expect(logged.length).toBeGreaterThan(0);
  });

  it("maps CriError codes through one table", async () => {
    const deadline = {
      ...services.runtime,
      version: async () => {
        throw new CriError("DeadlineExceeded", "too slow");
      },
    } as unknown as RuntimeService;
    const a = createCriApp({ runtime: deadline, images: services.images });
    expect((await a.request("/v1/runtime/version", { method: "POST" })).status).toBe(504);
  });
});

describe("bearer token", () => {
  it("requires the token everywhere but /health", async () => {
    const secured = createCriApp({ runtime: services.runtime, images: services.images, token: "s3cret" });
    expect((await secured.request("/health")).status).toBe(200);
    const denied = await secured.request("/v1/runtime/version", { method: "POST" });
    expect(denied.status).toBe(401);
    expect((await j(denied)).error.code).toBe("Unauthenticated");
    const wrong = await secured.request("/v1/runtime/version", {
      method: "POST",
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.status).toBe(401);
    const ok = await secured.request("/v1/runtime/version", {
      method: "POST",
      headers: { authorization: "Bearer s3cret" },
    });
    expect(ok.status).toBe(200);
  });

  it("guards every other route, including /metrics, the extensions and unknown paths", async () => {
    const secured = createCriApp({
      runtime: services.runtime,
      images: services.images,
      token: "s3cret",
      metrics: async () => ({ contentType: "text/plain", body: "servin_up 1\n" }),
      imageTransfer: { importImage: async () => [], exportImage: async () => (async function* () {})() },
    });
    const paths = [
      ...criRoutes.map((r) => ["POST", r.path]),
      ["GET", "/metrics"],
      ["POST", "/v1/servin/image/import"],
      ["POST", "/v1/servin/image/export"],
      ["POST", "/v1/nope"],
    ];
    for (const [method, path] of paths) {
      const res = await secured.request(path!, {
        method: method!,
        body: method === "POST" ? "{}" : undefined,
      });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    const metrics = await secured.request("/metrics", { headers: { authorization: "Bearer s3cret" } });
    expect(await metrics.text()).toContain("servin_up 1");
  });
});

describe("hostile input", () => {
  it("random JSON to any route never yields a 500", async () => {
    const routes = criRoutes.filter((r) => !r.stream);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), fc.jsonValue({ maxDepth: 4 }), async (route, body) => {
        const res = await post(route.path, JSON.stringify(body));
        expect(
          res.status === 501 || res.status < 500,
          `${route.path} ${JSON.stringify(body).slice(0, 200)} → ${res.status}`,
        ).toBe(true);
        const parsed = await j(res);
        if (res.status !== 200) expect(parsed.error.message).toEqual(expect.any(String));
      }),
      { numRuns: 300 },
    );
  });

  it("random objects shaped like real requests never yield a 500", async () => {
    const keys = [
      "config",
      "metadata",
      "name",
      "pod_sandbox_id",
      "container_id",
      "filter",
      "image",
      "labels",
      "id",
      "state",
      "timeout",
      "cmd",
    ];
    const shaped = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("node"), { maxLength: 3 }),
        fc.dictionary(fc.constantFrom(...keys, "__proto__", "constructor"), tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...criRoutes.filter((r) => !r.stream)),
        shaped,
        async (route, body) => {
          const res = await post(route.path, JSON.stringify(body));
          expect(
            res.status === 501 || res.status < 500,
            `${route.path} ${JSON.stringify(body)} → ${res.status}`,
          ).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("mounted in a parent Hono app with app.route()", () => {
  it("keeps its JSON answers: routes, errors and 404 under the mount point", async () => {
    const { Hono } = await import("hono");
    const parent = new Hono();
    parent.get("/", (c) => c.text("the parent's own page"));
    parent.route("/cri", app);
    const version = await parent.request("/cri/v1/runtime/version", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(version.status).toBe(200);
    expect((await j(version)).version.runtime_name).toBe("servin");
    const bad = await parent.request("/cri/v1/runtime/version", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(bad.status).toBe(400);
    expect((await j(bad)).error.code).toBe("InvalidArgument");
    const missing = await parent.request("/cri/v1/no/such/route", { method: "POST", body: "{}" });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("application/json");
    expect(await j(missing)).toMatchObject({ error: { code: "NotFound" } });
    expect(await (await parent.request("/")).text()).toBe("the parent's own page");
  });
});
