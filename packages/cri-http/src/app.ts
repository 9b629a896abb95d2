/** createCriApp: the HTTP/JSON CRI as a Hono app that any Node (or Web-standard) server can mount. */
import { decodeRequest, encodeResponse, IMAGE_RPC_NAMES, type RpcName } from "@servin/cri-messages";
import {
  CriError,
  type CriErrorCode,
  type Image,
  type ImageService,
  isCriError,
  type RuntimeService,
} from "@servin/cri-types";
import { Hono } from "hono";
import { bearerAuth } from "./auth.js";
import { readJsonBody } from "./body.js";
import { errorBody, type HttpOnlyCode, httpStatusOf } from "./errors.js";
import { type CriRoute, criRoutes } from "./routes/index.js";

export interface CriAppLogger {
  debug(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** Called once per RPC request, after the answer is known (for metrics and access logs). */
export type RequestObserver = (info: { rpc: RpcName; status: number; durationMs: number }) => void;

export interface CriAppOptions {
  runtime: RuntimeService;
  images: ImageService;
  /** When set, every route except GET /health requires `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest accepted request body in bytes (default 16 MiB, kubelet's gRPC limit). */
  bodyLimit?: number;
  logger?: CriAppLogger;
  /** Extra fields for GET /health (e.g. uptime); must be cheap. */
  health?: () => Record<string, unknown>;
  /** Serves GET /metrics when given (Prometheus text format). */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  onRequest?: RequestObserver;
  /**
   * Serves servin's image import/export extension routes when given:
   * `POST /v1/servin/image/import {"path"}` and `POST /v1/servin/image/export {"image","path"}`.
   * Paths are on the server's filesystem and must be absolute.
   */
  imageTransfer?: ImageTransfer;
}

export interface ImageTransfer {
  importImage(path: string): Promise<Image[]>;
  exportImage(ref: string, dest: string): Promise<void>;
}

const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
const imageRpcs = new Set<string>(IMAGE_RPC_NAMES);
const silent: CriAppLogger = { debug() {}, error() {} };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: CriErrorCode | HttpOnlyCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Builds the Servin CRI HTTP/JSON API over the given services.
 *
 * @example
 * import { serve } from "@hono/node-server";
 * const app = createCriApp({ runtime, images });
 * serve({ fetch: app.fetch, port: 8080, hostname: "127.0.0.1" });
 * // curl -X POST http://127.0.0.1:8080/v1/runtime/version -d '{}'
 */
export function createCriApp(options: CriAppOptions): Hono {
  const { runtime, images } = options;
  const logger = options.logger ?? silent;
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status as 400);
    if (isCriError(err)) {
      const status = httpStatusOf[err.code] ?? 500;
      if (status >= 500 && err.code === "Internal")
        logger.error(`internal error: ${err.message}`, err.cause ?? err);
      return c.json(errorBody(err.code, err.message, err.details), status as 400);
    }
    // A fault of ours, not of the request: log the stack, never leak it.
    logger.error(`internal error on ${c.req.method} ${c.req.path}`, err);
    return c.json(errorBody("Internal", "internal error"), 500);
  });
  app.notFound((c) => c.json(errorBody("NotFound", `no route for ${c.req.method} ${c.req.path}`), 404));

  // Before every route: Hono runs handlers in registration order, so the token check must come first.
  if (options.token !== undefined) app.use("*", bearerAuth(options.token, ["/health"]));

  app.get("/health", (c) => c.json({ status: "ok", ...(options.health?.() ?? {}) }));
  if (options.metrics) {
    const metrics = options.metrics;
    app.get("/metrics", async (c) => {
      const { contentType, body } = await metrics();
      return c.body(body, 200, { "content-type": contentType });
    });
  }

  if (options.imageTransfer) {
    const transfer = options.imageTransfer;
    app.post("/v1/servin/image/import", async (c) => {
      const body = await readExtensionBody(c.req.raw, limit);
      const path = absolutePath(body.path, "path");
      const imported = await transfer.importImage(path);
      return c.json(encodeResponse("listImages", { images: imported }, "json"));
    });
    app.post("/v1/servin/image/export", async (c) => {
      const body = await readExtensionBody(c.req.raw, limit);
      const image = body.image;
      if (typeof image !== "string" || image === "")
        throw CriError.invalidArgument("image: expected a non-empty string");
      await transfer.exportImage(image, absolutePath(body.path, "path"));
      return c.json({});
    });
  }

  for (const route of criRoutes) {
    app.post(route.path, (c) => handle(route, c.req.raw));
    app.all(route.path, (c) => {
      c.header("allow", "POST");
      return c.json(
        errorBody("MethodNotAllowed", `method ${c.req.method} not allowed on ${route.path}: use POST`),
        405,
      );
    });
  }

  async function handle(route: CriRoute, request: Request): Promise<Response> {
    const started = performance.now();
    let status = 200;
    try {
      const body = await readBody(request, limit);
      const req = decodeRequest(route.rpc, body, "json");
      const service = (imageRpcs.has(route.rpc) ? images : runtime) as unknown as Record<
        string,
        (req: unknown, opts: { signal: AbortSignal }) => unknown
      >;
      const call = service[route.rpc];
      if (!call) throw new HttpError(501, "Unimplemented", `${route.rpc} is not implemented`);
      if (route.stream)
        return streamEvents(
          route.rpc,
          call.call(service, req, { signal: request.signal }) as AsyncIterable<unknown>,
        );
      if (route.rpc === "pullImage" && wantsNdjson(request)) return streamPull(req, request.signal);
      const result = await call.call(service, req, { signal: request.signal });
      return Response.json(encodeResponse(route.rpc, result as never, "json"));
    } catch (err) {
      status =
        err instanceof HttpError ? err.status : isCriError(err) ? (httpStatusOf[err.code] ?? 500) : 500;
      throw err;
    } finally {
      const durationMs = performance.now() - started;
      logger.debug(`${route.rpc} ${status} ${durationMs.toFixed(1)}ms`);
      options.onRequest?.({ rpc: route.rpc, status, durationMs });
    }
  }

  /**
   * PullImage with `Accept: application/x-ndjson`: a servin extension for CLIs that
   * streams `{"progress":{…}}` lines per blob, then the CRI answer `{"image_ref":…}`
   * or `{"error":{…}}` as the last line (the status is already 200 by then).
   */
  function streamPull(req: unknown, signal: AbortSignal): Response {
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        const send = (value: unknown) => controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`));
        try {
          const result = await images.pullImage(req as never, {
            signal,
            onProgress: (p) =>
              send({
                progress: {
                  digest: p.digest,
                  kind: p.kind,
                  status: p.status,
                  current: p.current,
                  total: p.total,
                },
              }),
          });
          send(encodeResponse("pullImage", result, "json"));
        } catch (err) {
          const e = isCriError(err) ? err : undefined;
          if (!e) logger.error("pull failed", err);
          send(errorBody(e?.code ?? "Internal", e?.message ?? "internal error", e?.details));
        }
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
  }

  function streamEvents(rpc: RpcName, events: AsyncIterable<unknown>): Response {
    const encoder = new TextEncoder();
    const iterator = events[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) controller.close();
          else
            controller.enqueue(
              encoder.encode(`${JSON.stringify(encodeResponse(rpc, next.value as never, "json"))}\n`),
            );
        } catch (err) {
          logger.error(`${rpc} stream failed`, err);
          controller.error(err);
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    });
    return new Response(body, { headers: { "content-type": "application/x-ndjson" } });
  }

  return app;
}

function wantsNdjson(request: Request): boolean {
  return (request.headers.get("accept") ?? "").includes("application/x-ndjson");
}

/** The body as JSON; size and syntax problems become HTTP errors (413, 400). */
function readBody(request: Request, limit: number): Promise<unknown> {
  return readJsonBody(request, limit).catch((err: { status?: number; code?: string; message: string }) => {
    throw new HttpError(err.status ?? 400, (err.code as HttpOnlyCode) ?? "InvalidArgument", err.message);
  });
}

async function readExtensionBody(request: Request, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(request, limit);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw CriError.invalidArgument("request body: expected a JSON object");
  return body as Record<string, unknown>;
}

function absolutePath(value: unknown, field: string): string {
  if (typeof value !== "string" || !value.startsWith("/"))
    throw CriError.invalidArgument(`${field}: expected an absolute path on the server`);
  return value;
}
