/** A minimal HTTP(S) client on node:http: redirects, per-request TLS verification, inactivity timeouts, body caps. */
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";

export interface HttpRequest {
  url: URL;
  method?: "GET" | "HEAD" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** false: accept any certificate (insecure registries). */
  tlsVerify?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  /** The URL that answered, after redirects. */
  url: URL;
}

export class HttpTimeoutError extends Error {}

function once(req: HttpRequest, url: URL, headers: Record<string, string>): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const r = mod.request(
      url,
      {
        method: req.method ?? "GET",
        headers: { "user-agent": "servin", ...headers },
        ...(url.protocol === "https:" ? { rejectUnauthorized: req.tlsVerify !== false } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
      (res) => {
        // The same inactivity timeout keeps guarding the body while it streams,
        // with an error that says so (the request's own handler would say "aborted").
        r.setTimeout(0);
        const socket = res.socket;
        const onTimeout = () =>
          res.destroy(new HttpTimeoutError(`no data from ${url.host} for ${req.timeoutMs} ms`));
        socket.setTimeout(req.timeoutMs);
        socket.on("timeout", onTimeout);
        res.once("close", () => {
          socket.off("timeout", onTimeout);
          socket.setTimeout(0);
        });
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      },
    );
    r.setTimeout(req.timeoutMs, () => {
      r.destroy(new HttpTimeoutError(`no response from ${url.host} within ${req.timeoutMs} ms`));
    });
    r.on("error", reject);
    r.end(req.body);
  });
}

/** Sends a request, following up to 5 redirects; Authorization never leaves the original origin. */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  let url = req.url;
  let headers = { ...(req.headers ?? {}) };
  const max = req.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    const res = await once(req, url, headers);
    const loc = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(res.status) || !loc) return res;
    res.body.resume();
    if (hop >= max) throw new Error(`too many redirects from ${req.url.host}`);
    const next = new URL(loc, url);
    if (next.origin !== url.origin) {
      // Blob redirects go to object storage with signed URLs: never forward our credentials.
      const { authorization: _drop, ...rest } = headers;
      headers = rest;
    }
    url = next;
  }
}

/** Reads a whole response body, refusing more than `cap` bytes. */
export async function readBody(res: HttpResponse, cap: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > cap) {
    res.body.destroy();
    throw new BodyTooLargeError(`${what} is ${declared} bytes, over the ${cap}-byte cap`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > cap) {
      res.body.destroy();
      throw new BodyTooLargeError(`${what} is over the ${cap}-byte cap`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export class BodyTooLargeError extends Error {}
