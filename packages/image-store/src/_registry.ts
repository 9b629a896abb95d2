/**
 * An OCI distribution client: endpoints (mirrors in order, then the registry),
 * anonymous, basic and bearer auth, retries with backoff on transient
 * failures, verified manifests, streamed blobs.
 */
import type { AuthConfig } from "@servin/cri-types";
import { CriError, isCriError } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import {
  AuthError,
  basicHeader,
  type Challenge,
  type Credentials,
  credsFromCri,
  credsFromDockerConfig,
  dockerConfigPath,
  parseChallenges,
  TokenCache,
} from "./_auth.js";
import { sha256Digest } from "./_digest.js";
import { BodyTooLargeError, type HttpResponse, HttpTimeoutError, httpRequest, readBody } from "./_http.js";
import { MANIFEST_ACCEPT } from "./_manifest.js";
import type { ImageReference } from "./reference.js";
import type { RegistryConfig } from "./registry-config.js";

export interface Endpoint {
  /** Base URL (scheme, host, optional path prefix). */
  base: URL;
  tlsVerify: boolean;
  mirror: boolean;
  /** Insecure HTTPS endpoints fall back to plain HTTP when TLS fails. */
  httpFallback: boolean;
}

/** Loopback registries are plain HTTP without configuration, as Docker treats them. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, "");
  return h === "localhost" || h === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/** Whether the registry itself is tried after its mirrors (default true, as containerd). */
export function upstreamFallback(domain: string, cfg: RegistryConfig): boolean {
  return cfg.upstreamFallbackFor?.[domain] ?? cfg.upstreamFallback ?? true;
}

/** The endpoints for a registry host, mirrors first, the registry itself last (unless fallback is off). */
export function endpointsFor(domain: string, cfg: RegistryConfig): Endpoint[] {
  const insecure = new Set(cfg.insecure ?? []);
  const out: Endpoint[] = [];
  for (const m of cfg.mirrors?.[domain] ?? []) {
    const base = new URL(/^[a-z]+:\/\//.test(m) ? m : `https://${m}`);
    const loose = insecure.has(base.host);
    out.push({ base, tlsVerify: !loose, mirror: true, httpFallback: loose && base.protocol === "https:" });
  }
  // With fallback off, a host with mirrors is pulled from them only: the registry is never contacted.
  if (out.length > 0 && !upstreamFallback(domain, cfg)) return out;
  const host = domain === "docker.io" ? "registry-1.docker.io" : domain;
  if (isLoopbackHost(domain))
    out.push({ base: new URL(`http://${host}`), tlsVerify: true, mirror: false, httpFallback: false });
  else {
    const loose = insecure.has(domain);
    out.push({ base: new URL(`https://${host}`), tlsVerify: !loose, mirror: false, httpFallback: loose });
  }
  return out;
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);
const TLS_MISMATCH = /EPROTO|wrong version number|ERR_SSL|packet length too long/i;

function isTransient(err: unknown): boolean {
  return err instanceof HttpTimeoutError || TRANSIENT_CODES.has((err as NodeJS.ErrnoException)?.code ?? "");
}

export interface RegistryClientOptions {
  registries: RegistryConfig;
  logger: Pick<Logger, "debug" | "warn">;
}

export interface FetchedManifest {
  endpoint: Endpoint;
  body: Buffer;
  mediaType: string;
  digest: string;
}

interface RequestOpts {
  accept?: string;
  signal?: AbortSignal;
  creds: Credentials | undefined;
  scope: string;
}

export class RegistryClient {
  readonly tokens = new TokenCache();
  private readonly challenges = new Map<string, Challenge>();
  private readonly retries: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: RegistryClientOptions) {
    this.retries = opts.registries.retries ?? 3;
    this.timeoutMs = opts.registries.timeoutMs ?? 30_000;
  }

  endpoints(ref: ImageReference): Endpoint[] {
    return endpointsFor(ref.domain, this.opts.registries);
  }

  /** Credentials for one endpoint: the CRI auth for the registry itself, else docker config.json. */
  async credentials(
    ep: Endpoint,
    ref: ImageReference,
    auth: AuthConfig | undefined,
  ): Promise<Credentials | undefined> {
    if (!ep.mirror) {
      const cri = credsFromCri(auth);
      if (cri) return cri;
    }
    const host = ep.mirror ? ep.base.host : ref.domain;
    return credsFromDockerConfig(host, dockerConfigPath(this.opts.registries.authConfigPath));
  }

  private url(ep: Endpoint, path: string): URL {
    const prefix = ep.base.pathname.replace(/\/+$/, "");
    return new URL(`${ep.base.protocol}//${ep.base.host}${prefix}/v2/${path}`);
  }

  private async authHeader(ep: Endpoint, o: RequestOpts): Promise<string | undefined> {
    const ch = this.challenges.get(ep.base.origin);
    if (!ch) return o.creds?.registryToken ? `Bearer ${o.creds.registryToken}` : undefined;
    if (ch.scheme === "bearer") {
      const token = await this.tokens.get(ch, o.scope, o.creds, {
        timeoutMs: this.timeoutMs,
        tlsVerify: ep.tlsVerify,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      return `Bearer ${token}`;
    }
    if (ch.scheme === "basic" && o.creds?.username) return basicHeader(o.creds);
    return undefined;
  }

  /** One GET with auth, redirects and retries; returns any final status for the caller to judge. */
  async get(ep: Endpoint, path: string, o: RequestOpts): Promise<HttpResponse> {
    let authed = false;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = {};
      if (o.accept) headers.accept = o.accept;
      let res: HttpResponse;
      try {
        const auth = await this.authHeader(ep, o);
        if (auth) headers.authorization = auth;
        res = await httpRequest({
          url: this.url(ep, path),
          headers,
          tlsVerify: ep.tlsVerify,
          timeoutMs: this.timeoutMs,
          ...(o.signal ? { signal: o.signal } : {}),
        });
      } catch (err) {
        if (o.signal?.aborted) throw new CriError("Aborted", `request to ${ep.base.host} was cancelled`);
        if (err instanceof AuthError)
          throw new CriError("Unauthenticated", `${ep.base.host}: ${err.message}`);
        if (
          ep.httpFallback &&
          ep.base.protocol === "https:" &&
          TLS_MISMATCH.test(String((err as Error)?.message))
        ) {
          this.opts.logger.debug(
            `${ep.base.host}: TLS failed, falling back to plain HTTP (insecure registry)`,
          );
          ep.base = new URL(ep.base.href.replace(/^https:/, "http:"));
          continue;
        }
        if (isTransient(err) && attempt < this.retries) {
          await this.backoff(attempt, undefined, o.signal);
          continue;
        }
        throw new CriError("Unavailable", `registry ${ep.base.host} unreachable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      if (res.status === 401 && !authed) {
        res.body.resume();
        const challenges = parseChallenges(res.headers["www-authenticate"]);
        const ch =
          challenges.find((c) => c.scheme === "bearer") ?? challenges.find((c) => c.scheme === "basic");
        if (!ch)
          throw new CriError(
            "Unauthenticated",
            `registry ${ep.base.host} requires authentication it did not describe`,
          );
        if (ch.scheme === "basic" && !o.creds?.username) {
          throw new CriError(
            "Unauthenticated",
            `registry ${ep.base.host} requires credentials (basic auth) and none were given`,
          );
        }
        this.challenges.set(ep.base.origin, ch);
        authed = true;
        attempt--;
        continue;
      }
      if (TRANSIENT_STATUS.has(res.status) && attempt < this.retries) {
        res.body.resume();
        await this.backoff(attempt, res.headers["retry-after"], o.signal);
        continue;
      }
      return res;
    }
  }

  private async backoff(
    attempt: number,
    retryAfter: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const hinted = Number(retryAfter);
    const ms =
      Number.isFinite(hinted) && hinted > 0
        ? Math.min(hinted * 1000, 10_000)
        : 200 * 2 ** attempt + Math.random() * 100;
    await new Promise<void>((resolve) => {
      // The listener goes when the timer fires: a long pull retrying many times
      // must not pile listeners onto its signal.
      const t = setTimeout(() => {
        signal?.removeEventListener("abort", stop);
        resolve();
      }, ms);
      const stop = () => {
        clearTimeout(t);
        resolve();
      };
      signal?.addEventListener("abort", stop, { once: true });
    });
    if (signal?.aborted) throw new CriError("Aborted", "pull was cancelled");
  }

  private statusError(ep: Endpoint, res: HttpResponse, what: string): CriError {
    res.body.resume();
    if (res.status === 401 || res.status === 403) {
      return new CriError(
        "Unauthenticated",
        `${what}: registry ${ep.base.host} denied access (${res.status})`,
      );
    }
    if (res.status === 404)
      return CriError.notFound(`${what}: not found in ${ep.mirror ? "mirror" : "registry"} ${ep.base.host}`);
    return new CriError("Unavailable", `${what}: registry ${ep.base.host} answered ${res.status}`);
  }

  /**
   * Tries each endpoint in order and returns the first success; when all
   * fail, the registry's own error wins (mirror errors are appended).
   */
  async firstOf<T>(
    eps: Endpoint[],
    ref: ImageReference,
    auth: AuthConfig | undefined,
    fn: (ep: Endpoint, creds: Credentials | undefined) => Promise<T>,
  ): Promise<T> {
    const errors: CriError[] = [];
    for (const ep of eps) {
      try {
        return await fn(ep, await this.credentials(ep, ref, auth));
      } catch (err) {
        if (isCriError(err) && err.code === "Aborted") throw err;
        const e = isCriError(err) ? err : CriError.internal(String((err as Error)?.message ?? err), err);
        // A mirror that is down, lacks the image or lies about content: try the next endpoint.
        if (ep.mirror)
          this.opts.logger.warn(`mirror ${ep.base.host} failed, trying the next endpoint: ${e.message}`);
        errors.push(e);
      }
    }
    throw combineEndpointErrors(eps, errors, ref.domain);
  }

  /** Fetches and verifies a manifest or index (`reference` is a tag or digest). */
  async fetchManifest(
    ep: Endpoint,
    ref: ImageReference,
    reference: string,
    creds: Credentials | undefined,
    cap: number,
    signal?: AbortSignal,
  ): Promise<FetchedManifest> {
    const what = `manifest ${ref.name}${reference.startsWith("sha256:") ? "@" : ":"}${reference}`;
    const res = await this.get(ep, `${ref.path}/manifests/${reference}`, {
      accept: MANIFEST_ACCEPT,
      creds,
      scope: `repository:${ref.path}:pull`,
      ...(signal ? { signal } : {}),
    });
    if (res.status !== 200) throw this.statusError(ep, res, what);
    let body: Buffer;
    try {
      body = await readBody(res, cap, what);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw CriError.invalidArgument(err.message);
      throw new CriError("Unavailable", `${what}: ${(err as Error).message}`, { cause: err });
    }
    const digest = sha256Digest(body);
    if (reference.startsWith("sha256:") && digest !== reference) {
      throw CriError.invalidArgument(`${what}: content digest is ${digest}`);
    }
    const mediaType = String(res.headers["content-type"] ?? "")
      .split(";")[0]!
      .trim();
    return { endpoint: ep, body, mediaType, digest };
  }

  /** Opens a blob's byte stream (redirects followed; the caller verifies digest and size). */
  async openBlob(
    ep: Endpoint,
    ref: ImageReference,
    digest: string,
    creds: Credentials | undefined,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const res = await this.get(ep, `${ref.path}/blobs/${digest}`, {
      creds,
      scope: `repository:${ref.path}:pull`,
      ...(signal ? { signal } : {}),
    });
    if (res.status !== 200) throw this.statusError(ep, res, `blob ${digest} of ${ref.name}`);
    return res;
  }
}

/**
 * One error for a request every endpoint failed. The registry's own error
 * wins, with the mirrors' appended, except when a mirror answered "not found"
 * and the registry could not be asked (fallback off, or unreachable): then the
 * mirror's answer is the news, not the unreachable upstream.
 */
export function combineEndpointErrors(eps: Endpoint[], errors: CriError[], domain: string): CriError {
  const last = errors[errors.length - 1]!;
  const upstreamTried = eps.length > 0 && !eps[eps.length - 1]!.mirror;
  const missing = errors.find((e, i) => eps[i]?.mirror && e.code === "NotFound");
  if (!upstreamTried) {
    const head = missing ?? last;
    const others = errors.filter((e) => e !== head).map((e) => e.message);
    const tail = others.length > 0 ? ` (other mirrors: ${others.join("; ")})` : "";
    return new CriError(
      head.code,
      `${head.message}${tail}; upstream fallback is off for ${domain}: the registry itself was not tried`,
      { cause: head },
    );
  }
  if (errors.length === 1) return last;
  const mirrors = errors
    .slice(0, -1)
    .map((e) => e.message)
    .join("; ");
  if (missing && last.code === "Unavailable")
    return new CriError(
      "NotFound",
      `${missing.message}, and the registry could not be asked: ${last.message}`,
      {
        cause: missing,
      },
    );
  return new CriError(last.code, `${last.message} (mirrors: ${mirrors})`, { cause: last });
}
