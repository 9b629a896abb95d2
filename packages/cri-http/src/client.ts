/** A typed client for the HTTP/JSON CRI: the same RuntimeService and ImageService interfaces, over fetch. */
import {
  decodeResponse,
  encodeRequest,
  IMAGE_RPC_NAMES,
  type RpcName,
  RUNTIME_RPC_NAMES,
} from "@servin/cri-messages";
import {
  CriError,
  type Image,
  type ImageService,
  type PullImageRequest,
  type PullImageResponse,
  type PullProgress,
  type RuntimeService,
} from "@servin/cri-types";
import { criErrorFromBody } from "./errors.js";
import { criRoutes } from "./routes/index.js";

export interface CriClientOptions {
  /** e.g. `http://127.0.0.1:8080` */
  baseUrl: string;
  token?: string;
  /** Per-request timeout in ms (default 120 000, kubelet's runtime request timeout). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface HealthAnswer {
  status: string;
  [key: string]: unknown;
}

export type CriClient = RuntimeService &
  ImageService & {
    /** GET /health. */
    health(): Promise<HealthAnswer>;
    /** PullImage, streaming per-blob progress (servin's NDJSON extension of /v1/image/pull). */
    pullImageWithProgress(
      req: PullImageRequest,
      onProgress: (p: PullProgress) => void,
      opts?: { signal?: AbortSignal },
    ): Promise<PullImageResponse>;
    /**
     * Imports every image of an OCI layout or `docker save` tar sent as the request body (servin
     * extension, like `docker load`), e.g. `createReadStream("app.tar")`.
     */
    importImage(
      archive: AsyncIterable<Uint8Array> | Uint8Array,
      opts?: { signal?: AbortSignal },
    ): Promise<Image[]>;
    /**
     * The image as an OCI layout tar (that `docker load` also reads), streamed from the response
     * (servin extension, like `docker save`). A stream that breaks off mid-way throws while iterating.
     */
    exportImage(image: string, opts?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>>;
  };

/**
 * Creates a client for a running Servin HTTP API.
 *
 * @example
 * const cri = createCriClient({ baseUrl: "http://127.0.0.1:8080" });
 * const { runtimeName } = await cri.version({});
 * const { items } = await cri.listPodSandbox({});
 */
export function createCriClient(options: CriClientOptions): CriClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const pathOf = new Map<RpcName, string>();
  for (const route of criRoutes) if (!pathOf.has(route.rpc)) pathOf.set(route.rpc, route.path);

  const headers = (): Record<string, string> => ({
    "content-type": "application/json",
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
  });

  async function post(rpc: RpcName, req: unknown, signal?: AbortSignal): Promise<Response> {
    const path = pathOf.get(rpc);
    if (!path) throw CriError.unimplemented(rpc, "no HTTP route");
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(encodeRequest(rpc, req as never, "json")),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`, {
        cause: err,
      });
    }
    if (!response.ok) {
      const body = await response.json().catch(() => undefined);
      throw criErrorFromBody(response.status, body);
    }
    return response;
  }

  async function call(rpc: RpcName, req: unknown, opts?: { signal?: AbortSignal }): Promise<unknown> {
    const response = await post(rpc, req ?? {}, opts?.signal);
    return decodeResponse(rpc, await response.json(), "json");
  }

  async function* ndjsonLines(response: Response): AsyncIterable<unknown> {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield JSON.parse(line);
        newline = buffered.indexOf("\n");
      }
    }
  }

  async function pullImageWithProgress(
    req: PullImageRequest,
    onProgress: (p: PullProgress) => void,
    opts?: { signal?: AbortSignal },
  ): Promise<PullImageResponse> {
    const path = pathOf.get("pullImage")!;
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method: "POST",
        headers: { ...headers(), accept: "application/x-ndjson" },
        body: JSON.stringify(encodeRequest("pullImage", req, "json")),
        ...(opts?.signal ? { signal: opts.signal } : {}),
      });
    } catch (err) {
      throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`, {
        cause: err,
      });
    }
    if (!response.ok) throw criErrorFromBody(response.status, await response.json().catch(() => undefined));
    for await (const line of ndjsonLines(response)) {
      const value = line as { progress?: PullProgress; error?: unknown };
      if (value.progress) onProgress(value.progress);
      else if (value.error) throw criErrorFromBody(500, value);
      else return decodeResponse("pullImage", value, "json");
    }
    throw new CriError("Unavailable", "the pull stream ended without an answer (server stopped?)");
  }

  async function* events(req: unknown, opts?: { signal?: AbortSignal }): AsyncIterable<unknown> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    opts?.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const path = pathOf.get("getContainerEvents")!;
      const response = await doFetch(`${base}${path}`, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify(req ?? {}),
        signal: controller.signal,
      }).catch((err: unknown) => {
        if (controller.signal.aborted) return undefined;
        throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`);
      });
      if (!response) return;
      if (!response.ok) throw criErrorFromBody(response.status, await response.json().catch(() => undefined));
      try {
        for await (const line of ndjsonLines(response))
          yield decodeResponse("getContainerEvents", line, "json");
      } catch (err) {
        if (!controller.signal.aborted) throw err;
      }
    } finally {
      opts?.signal?.removeEventListener("abort", onAbort);
      controller.abort();
    }
  }

  /** An extension call without the per-request timeout: archives take as long as their size needs. */
  async function extension(
    path: string,
    init: { body: NonNullable<RequestInit["body"]>; contentType: string; signal?: AbortSignal },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await doFetch(`${base}${path}`, {
        method: "POST",
        headers: { ...headers(), "content-type": init.contentType },
        body: init.body,
        // Node's fetch streams a request body only in half-duplex mode.
        ...(typeof init.body === "string" || init.body instanceof Uint8Array ? {} : { duplex: "half" }),
        ...(init.signal ? { signal: init.signal } : {}),
      } as RequestInit);
    } catch (err) {
      throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`, {
        cause: err,
      });
    }
    if (!response.ok) throw criErrorFromBody(response.status, await response.json().catch(() => undefined));
    return response;
  }

  const client: Record<string, unknown> = {
    pullImageWithProgress,
    async importImage(
      archive: AsyncIterable<Uint8Array> | Uint8Array,
      opts?: { signal?: AbortSignal },
    ): Promise<Image[]> {
      const body =
        archive instanceof Uint8Array
          ? archive
          : (ReadableStream.from(archive) as unknown as NonNullable<RequestInit["body"]>);
      const response = await extension("/v1/servin/image/import", {
        body,
        contentType: "application/x-tar",
        ...(opts?.signal ? { signal: opts.signal } : {}),
      });
      return decodeResponse("listImages", await response.json(), "json").images;
    },
    async exportImage(image: string, opts?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>> {
      const response = await extension("/v1/servin/image/export", {
        body: JSON.stringify({ image }),
        contentType: "application/json",
        ...(opts?.signal ? { signal: opts.signal } : {}),
      });
      if (!response.body) throw new CriError("Unavailable", "the export answer had no body");
      return response.body as unknown as AsyncIterable<Uint8Array>;
    },
    async health(): Promise<HealthAnswer> {
      let response: Response;
      try {
        response = await doFetch(`${base}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`, {
          cause: err,
        });
      }
      if (!response.ok) throw criErrorFromBody(response.status, await response.json().catch(() => undefined));
      return (await response.json()) as HealthAnswer;
    },
  };
  for (const rpc of [...RUNTIME_RPC_NAMES, ...IMAGE_RPC_NAMES]) {
    client[rpc] =
      rpc === "getContainerEvents"
        ? events
        : (req: unknown, opts?: { signal?: AbortSignal }) => call(rpc, req, opts);
  }
  return client as unknown as CriClient;
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code)
    return cause.code === "ECONNREFUSED" ? "connection refused (is `servin cri start` running?)" : cause.code;
  if (cause?.message) return cause.message;
  if (err instanceof Error && err.name === "TimeoutError") return "request timed out";
  return err instanceof Error ? err.message : String(err);
}
