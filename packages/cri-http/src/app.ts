/** createCriApp: the HTTP/JSON CRI as a Hono app that any Node (or Web-standard) server can mount. */
import { decodeRequest, dispatchRpc, encodeResponse, RPCS, type RpcName } from "@servin/cri-messages";
import {
  type CallObservation,
  CriError,
  type CriErrorCode,
  type Image,
  type ImageService,
  isCriError,
  type Logger,
  type RuntimeService,
  silentLogger,
  wasReported,
} from "@servin/cri-types";
import { Hono } from "hono";
import { type AccessObserver, accessLog } from "./access-log.js";
import { bearerAuth } from "./auth.js";
import { isBodyError, readJsonBody, streamBody } from "./body.js";
import { type ContainerLogOptions, containerLogsHandler } from "./container-logs.js";
import { errorBody, type HttpOnlyCode, httpStatusOf } from "./errors.js";
import { peerAdmission, type TrustPeer } from "./peer.js";
import { type CriRoute, criRoutes } from "./routes/index.js";

/** An RPC request the HTTP edge answered itself; `code` may be an HTTP-only one (PayloadTooLarge, …). */
export type RefusalObserver = (
  observation: Omit<CallObservation, "code"> & { code: CriErrorCode | HttpOnlyCode },
) => void;

/** Called once per RPC request, after the answer is known (for access logs). */
export type RequestObserver = (info: { rpc: RpcName; status: number; durationMs: number }) => void;

export interface CriAppOptions {
  runtime: RuntimeService;
  images: ImageService;
  /** When set, every route except GET /health requires `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /**
   * Without a token: admits only connections whose peer this approves (once per connection), 403
   * otherwise; GET /health stays open. Needs the Node adapter (`listenCriApp`) to see the socket.
   */
  trustPeer?: TrustPeer;
  /** The 403 message for a peer `trustPeer` refuses: say how to get access. */
  peerDeniedMessage?: string;
  /** Largest accepted request body in bytes (default 16 MiB, kubelet's gRPC limit). */
  bodyLimit?: number;
  /**
   * Body read timeout in ms (default 30 000): a JSON body must arrive whole within it, and an import
   * archive must never stall longer between chunks; 408 otherwise, and the connection is closed.
   */
  bodyTimeoutMs?: number;
  /** Largest accepted image archive for import, in bytes (default 32 GiB). */
  importLimit?: number;
  logger?: Logger;
  /** Extra fields for GET /health (e.g. uptime); must be cheap. */
  health?: () => Record<string, unknown>;
  /** Serves GET /metrics when given (Prometheus text format). */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  onRequest?: RequestObserver;
  /** Called once per request of any route, refused ones (401, 403, 404) included (for access logs). */
  onAccess?: AccessObserver;
  /**
   * Called for each RPC request refused before a service saw it (unreadable body, malformed message):
   * with the services' own `onCall` observers, every call is observed exactly once.
   */
  onRefused?: RefusalObserver;
  /**
   * Serves servin's image import/export extension routes when given, as `docker load`/`docker save` do:
   * `POST /v1/servin/image/import` takes the tar as the request body (`content-type: application/x-tar`),
   * `POST /v1/servin/image/export {"image": ref}` answers with the tar. No route reads or writes a
   * path on the server's host.
   */
  imageTransfer?: ImageTransfer;
  /**
   * Fields of GET /v1/servin/info (servin extension), e.g. `podLogRoot`: the directory under which
   * `servin run` asks for its pods' log directories.
   */
  info?: () => Record<string, unknown>;
  /** Limits of GET /v1/servin/containers/{id}/logs (always served, same admission as every route). */
  containerLogs?: ContainerLogOptions;
}

export interface ImageTransfer {
  /** Stores every image of an OCI layout or `docker save` tar read from `archive`. */
  importImage(archive: AsyncIterable<Uint8Array>): Promise<Image[]>;
  /** The image as a tar stream; rejects (e.g. NotFound) before the first byte. */
  exportImage(ref: string): Promise<AsyncIterable<Uint8Array>>;
}

const DEFAULT_BODY_LIMIT = 16 * 1024 * 1024;
const DEFAULT_BODY_TIMEOUT_MS = 30_000;
const DEFAULT_IMPORT_LIMIT = 32 * 1024 ** 3;
const TAR = "application/x-tar";
const IMPORT_PATH = "/v1/servin/image/import";

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
  const logger = options.logger ?? silentLogger;
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const importLimit = options.importLimit ?? DEFAULT_IMPORT_LIMIT;
  const services = { runtime, image: images };
  const app = new Hono();

  app.onError((err, c) => {
    // An answer given before the whole body was read (a stalled, oversized or refused upload): the rest
    // may never come, or be megabytes of archive; do not keep the connection for another request.
    if (
      c.req.path === IMPORT_PATH ||
      (err instanceof HttpError && (err.status === 408 || err.status === 413))
    )
      c.header("connection", "close");
    if (err instanceof HttpError) return c.json(errorBody(err.code, err.message), err.status as 400);
    if (isCriError(err)) {
      const status = httpStatusOf[err.code] ?? 500;
      // A service's instrument() already logged its own Internal faults, with their stack: once is enough.
      if (status >= 500 && err.code === "Internal" && !wasReported(err))
        logger.error(`internal error: ${err.message}`, err.cause ?? err);
      return c.json(errorBody(err.code, err.message, err.details), status as 400);
    }
    // A fault of ours, not of the request: log the stack, never leak it.
    logger.error(`internal error on ${c.req.method} ${c.req.path}`, err);
    return c.json(errorBody("Internal", "internal error"), 500);
  });
  app.notFound((c) => c.json(errorBody("NotFound", `no route for ${c.req.method} ${c.req.path}`), 404));

  // First of all: the access log sees every answer, the access check's 401s and 403s included.
  if (options.onAccess) app.use("*", accessLog(options.onAccess));
  // Before every route: Hono runs handlers in registration order, so the access check must come first.
  // A configured token is the only key; without one, the kernel's word on who owns the peer socket.
  if (options.token !== undefined) app.use("*", bearerAuth(options.token, ["/health"]));
  else if (options.trustPeer)
    app.use("*", peerAdmission(options.trustPeer, ["/health"], options.peerDeniedMessage));

  app.get("/health", (c) => c.json({ status: "ok", ...(options.health?.() ?? {}) }));
  if (options.metrics) {
    const metrics = options.metrics;
    app.get("/metrics", async (c) => {
      const { contentType, body } = await metrics();
      return c.body(body, 200, { "content-type": contentType });
    });
  }

  const info = options.info;
  app.get("/v1/servin/info", (c) => c.json(info?.() ?? {}));
  const logs = containerLogsHandler(runtime, options.containerLogs);
  app.get("/v1/servin/containers/:id/logs", (c) =>
    logs(c.req.param("id"), new URL(c.req.url).searchParams, c.req.raw.signal),
  );

  if (options.imageTransfer) {
    const transfer = options.imageTransfer;
    app.post(IMPORT_PATH, async (c) => {
      const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== TAR)
        throw new HttpError(
          415,
          "UnsupportedMediaType",
          `content-type: expected ${TAR} with the archive as the request body, got "${type}" (servin reads no paths on its host)`,
        );
      const archive = streamBody(c.req.raw, importLimit, bodyTimeoutMs);
      let bodyFailure: unknown;
      // The store wraps a failing source in its own error: hand back our 408/413 as they were.
      const watched = (async function* () {
        try {
          yield* archive;
        } catch (err) {
          bodyFailure = err;
          throw err;
        }
      })();
      const imported = await transfer.importImage(watched).catch((err: unknown) => {
        throw bodyFailure !== undefined ? asHttpError(bodyFailure) : err;
      });
      return c.json(encodeResponse("listImages", { images: imported }, "json"));
    });
    app.post("/v1/servin/image/export", async (c) => {
      const body = await readExtensionBody(c.req.raw, limit, bodyTimeoutMs);
      const image = body.image;
      if (typeof image !== "string" || image === "")
        throw CriError.invalidArgument("image: expected a non-empty string");
      if (body.path !== undefined)
        throw CriError.invalidArgument(
          "path: servin writes no files on its host; the archive is the response body (servin image export REF -o FILE)",
        );
      const tar = await transfer.exportImage(image);
      return new Response(toReadableStream(tar, logger), { headers: { "content-type": TAR } });
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
      const body = await readBody(request, limit, bodyTimeoutMs);
      const req = decodeRequest(route.rpc, body, "json");
      if (route.rpc === "pullImage" && wantsNdjson(request)) return streamPull(req, request.signal);
      // The transport rides in the call options: the services' instrument() labels its metrics with it.
      const result = dispatchRpc(services, route.rpc, req as never, {
        signal: request.signal,
        transport: "http",
      });
      if (route.stream) return streamEvents(route.rpc, result as AsyncIterable<unknown>);
      return Response.json(encodeResponse(route.rpc, (await result) as never, "json"));
    } catch (err) {
      status =
        err instanceof HttpError ? err.status : isCriError(err) ? (httpStatusOf[err.code] ?? 500) : 500;
      // Refused here (body, decoding) or by a service without instrument(): no one has counted it yet.
      if (!wasReported(err)) {
        const durationMs = performance.now() - started;
        const code = err instanceof HttpError ? err.code : isCriError(err) ? err.code : "Internal";
        logger.debug(`http ${route.rpc} ${status} ${durationMs.toFixed(1)}ms: ${code}`);
        options.onRefused?.({
          service: RPCS[route.rpc].service,
          rpc: route.rpc,
          transport: "http",
          code,
          durationMs,
        });
      }
      throw err;
    } finally {
      options.onRequest?.({ rpc: route.rpc, status, durationMs: performance.now() - started });
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
            transport: "http",
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
          if (!e || (e.code === "Internal" && !wasReported(e))) logger.error("pull failed", err);
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

  // KEEP THIS THE LAST REGISTRATION: routes added after it are never reached. A parent app that
  // mounts this one with `parent.route("/cri", app)` uses its own notFound handler, not ours; a
  // catch-all route keeps the JSON 404 shape under the mount point too.
  app.all("*", (c) => c.json(errorBody("NotFound", `no route for ${c.req.method} ${c.req.path}`), 404));
  return app;
}

function wantsNdjson(request: Request): boolean {
  return (request.headers.get("accept") ?? "").includes("application/x-ndjson");
}

function asHttpError(err: unknown): unknown {
  if (!isBodyError(err)) return err;
  return new HttpError(err.status, err.code as HttpOnlyCode, err.message);
}

/** The body as JSON; size, time and syntax problems become HTTP errors (413, 408, 400). */
function readBody(request: Request, limit: number, timeoutMs: number): Promise<unknown> {
  return readJsonBody(request, limit, timeoutMs).catch((err: unknown) => {
    throw asHttpError(err);
  });
}

async function readExtensionBody(
  request: Request,
  limit: number,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const body = await readBody(request, limit, timeoutMs);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw CriError.invalidArgument("request body: expected a JSON object");
  return body as Record<string, unknown>;
}

/** A pull-based web stream over an async iterable; a failure mid-way aborts the response (a short tar, never a silent one). */
function toReadableStream(
  source: AsyncIterable<Uint8Array>,
  logger: Pick<Logger, "error">,
): ReadableStream<Uint8Array> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        logger.error("image export failed", err);
        controller.error(err);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
