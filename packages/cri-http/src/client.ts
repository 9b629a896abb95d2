/** A typed client for the HTTP/JSON CRI: the same RuntimeService and ImageService interfaces, over fetch. */
import {
  decodeResponse,
  encodeRequest,
  IMAGE_RPC_NAMES,
  RUNTIME_RPC_NAMES,
  type RpcName,
} from "@servin/cri-messages";
import { CriError, type ImageService, type RuntimeService } from "@servin/cri-types";
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
      throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`, { cause: err });
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
      if (!response.body) return;
      const decoder = new TextDecoder();
      let buffered = "";
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          buffered += decoder.decode(chunk, { stream: true });
          let newline = buffered.indexOf("\n");
          while (newline >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (line) yield decodeResponse("getContainerEvents", JSON.parse(line), "json");
            newline = buffered.indexOf("\n");
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) throw err;
      }
    } finally {
      opts?.signal?.removeEventListener("abort", onAbort);
      controller.abort();
    }
  }

  const client: Record<string, unknown> = {
    async health(): Promise<HealthAnswer> {
      let response: Response;
      try {
        response = await doFetch(`${base}/health`, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (err) {
        throw new CriError("Unavailable", `cannot reach servin at ${base}: ${describeFetchError(err)}`, { cause: err });
      }
      if (!response.ok) throw criErrorFromBody(response.status, await response.json().catch(() => undefined));
      return (await response.json()) as HealthAnswer;
    },
  };
  for (const rpc of [...RUNTIME_RPC_NAMES, ...IMAGE_RPC_NAMES]) {
    client[rpc] = rpc === "getContainerEvents" ? events : (req: unknown, opts?: { signal?: AbortSignal }) => call(rpc, req, opts);
  }
  return client as unknown as CriClient;
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code === "ECONNREFUSED" ? "connection refused (is `servin cri start` running?)" : cause.code;
  if (err instanceof Error && err.name === "TimeoutError") return "request timed out";
  return err instanceof Error ? err.message : String(err);
}
