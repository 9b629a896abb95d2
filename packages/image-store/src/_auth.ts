/** Registry authentication: credentials (CRI auth, docker config.json), WWW-Authenticate challenges, bearer tokens. */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { AuthConfig } from "@servin/cri-types";
import { httpRequest, readBody } from "./_http.js";
import { SharedOperation } from "./_shared.js";

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
  registryToken?: string;
}

function decodeAuth(auth: string): Credentials | undefined {
  const s = Buffer.from(auth, "base64").toString("utf8");
  const i = s.indexOf(":");
  if (i <= 0) return undefined;
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

/** Credentials from the CRI PullImageRequest.auth field, if it carries any. */
export function credsFromCri(auth: AuthConfig | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if (auth.registryToken) return { registryToken: auth.registryToken };
  if (auth.identityToken)
    return { identityToken: auth.identityToken, ...(auth.username ? { username: auth.username } : {}) };
  if (auth.username) return { username: auth.username, password: auth.password ?? "" };
  if (auth.auth) return decodeAuth(auth.auth);
  return undefined;
}

const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

function keyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//, "").replace(/\/.*$/, "");
}

/** The docker config file servin reads: the configured path, `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json`. */
export function dockerConfigPath(configured?: string): string {
  if (configured) return configured;
  if (process.env.DOCKER_CONFIG) return join(process.env.DOCKER_CONFIG, "config.json");
  return join(homedir(), ".docker", "config.json");
}

/** Looks `host` up in a docker config.json `auths` map (credential helpers are not supported). */
export async function credsFromDockerConfig(host: string, path: string): Promise<Credentials | undefined> {
  let doc: {
    auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  };
  try {
    doc = JSON.parse(await readFile(path, "utf8"));
  } catch {
    return undefined;
  }
  const hub = DOCKER_HUB_ALIASES.has(host);
  for (const [key, entry] of Object.entries(doc.auths ?? {})) {
    const h = keyHost(key);
    if (h !== host && !(hub && DOCKER_HUB_ALIASES.has(h))) continue;
    if (entry.identitytoken) return { identityToken: entry.identitytoken };
    if (entry.username) return { username: entry.username, password: entry.password ?? "" };
    if (entry.auth) return decodeAuth(entry.auth);
  }
  return undefined;
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (several challenges allowed). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  // One challenge per header line, as registries send them.
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)\s*(.*)$/s.exec(h);
    if (!m) continue;
    const params: Record<string, string> = {};
    const pre = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
    for (let p = pre.exec(m[2] ?? ""); p; p = pre.exec(m[2] ?? "")) {
      params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : (p[3] ?? "");
    }
    out.push({ scheme: m[1]!.toLowerCase(), params });
  }
  return out;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ""}:${c.password ?? ""}`).toString("base64")}`;
}

interface CachedToken {
  token: string;
  expires: number;
}

/** Bearer tokens cached per realm, service, scope and user until shortly before they expire. */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inflight = new Map<string, SharedOperation<string>>();
  /** Token requests actually sent (for tests and logs). */
  fetches = 0;

  async get(
    ch: Challenge,
    scope: string,
    creds: Credentials | undefined,
    http: { timeoutMs: number; tlsVerify: boolean; signal?: AbortSignal },
  ): Promise<string> {
    const realm = ch.params.realm;
    if (!realm) throw new AuthError("bearer challenge without a realm");
    if (creds?.registryToken) return creds.registryToken;
    const key = JSON.stringify([
      realm,
      ch.params.service ?? "",
      scope,
      creds?.username ?? "",
      creds?.identityToken ?? "",
    ]);
    const hit = this.tokens.get(key);
    if (hit && hit.expires > Date.now()) return hit.token;
    let running = this.inflight.get(key);
    if (!running || running.abandoned) {
      // Shared by concurrent requests, each waiting with its own signal: one
      // caller's cancel does not fail the others' token request.
      const op: SharedOperation<string> = new SharedOperation(
        (signal) =>
          this.fetch(realm, ch.params.service, scope, creds, { ...http, signal }).then(
            ({ token, expiresIn }) => {
              // Renew 10 s early so a token never expires mid-request.
              this.tokens.set(key, { token, expires: Date.now() + Math.max(0, expiresIn - 10) * 1000 });
              return token;
            },
          ),
        () => {
          if (this.inflight.get(key) === op) this.inflight.delete(key);
        },
      );
      op.promise
        .finally(() => {
          if (this.inflight.get(key) === op) this.inflight.delete(key);
        })
        .catch(() => undefined);
      this.inflight.set(key, op);
      running = op;
    }
    return running.join(http.signal, () => new AuthError("token request was cancelled"));
  }

  private async fetch(
    realm: string,
    service: string | undefined,
    scope: string,
    creds: Credentials | undefined,
    http: { timeoutMs: number; tlsVerify: boolean; signal?: AbortSignal },
  ): Promise<{ token: string; expiresIn: number }> {
    this.fetches++;
    const url = new URL(realm);
    let res: Awaited<ReturnType<typeof httpRequest>>;
    const common = {
      timeoutMs: http.timeoutMs,
      tlsVerify: http.tlsVerify,
      ...(http.signal ? { signal: http.signal } : {}),
    };
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant, as docker does with identity tokens.
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: creds.identityToken,
        client_id: "servin",
        scope,
      });
      if (service) form.set("service", service);
      res = await httpRequest({
        ...common,
        url,
        method: "POST",
        body: form.toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
    } else {
      if (service) url.searchParams.set("service", service);
      url.searchParams.set("scope", scope);
      const headers: Record<string, string> = {};
      if (creds?.username) headers.authorization = basicHeader(creds);
      res = await httpRequest({ ...common, url, headers });
    }
    const body = await readBody(res, 1024 * 1024, "token response");
    if (res.status === 401 || res.status === 403)
      throw new AuthError(`token server ${url.host} refused the credentials (${res.status})`);
    if (res.status !== 200) throw new AuthError(`token server ${url.host} answered ${res.status}`);
    let doc: { token?: string; access_token?: string; expires_in?: number };
    try {
      doc = JSON.parse(body.toString("utf8"));
    } catch {
      throw new AuthError(`token server ${url.host} sent invalid JSON`);
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new AuthError(`token server ${url.host} sent no token`);
    return {
      token,
      expiresIn: typeof doc.expires_in === "number" && doc.expires_in > 0 ? doc.expires_in : 60,
    };
  }
}

export class AuthError extends Error {}
