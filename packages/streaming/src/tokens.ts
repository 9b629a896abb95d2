/** Single-use, expiring tokens for streaming URLs, as kubelet's streaming request cache hands them out. */
import { randomBytes } from "node:crypto";
import { CriError } from "@servin/cri-types";

export interface TokenCacheOptions {
  /** How long an issued URL stays valid; kubelet's cache uses one minute. */
  ttlMs?: number;
  /** Most URLs waiting to be used at once; kubelet's cache allows 1000 in flight. */
  maxPending?: number;
  now?: () => number;
}

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/** Maps random URL-safe tokens to pending requests; `take` hands each out once, before it expires. */
export class TokenCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #ttlMs: number;
  readonly #maxPending: number;
  readonly #now: () => number;

  constructor(options: TokenCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#maxPending = options.maxPending ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** Stores `value` under a new token (128 random bits, base64url). */
  insert(value: T): string {
    this.sweep();
    if (this.#entries.size >= this.#maxPending) {
      throw new CriError(
        "ResourceExhausted",
        `streaming: too many pending stream requests (limit ${this.#maxPending})`,
      );
    }
    const token = randomBytes(16).toString("base64url");
    this.#entries.set(token, { value, expiresAt: this.#now() + this.#ttlMs });
    return token;
  }

  /** Removes and returns the request for `token`, or undefined when unknown, used or expired. */
  take(token: string): T | undefined {
    const entry = this.#entries.get(token);
    if (entry === undefined) return undefined;
    this.#entries.delete(token);
    return entry.expiresAt > this.#now() ? entry.value : undefined;
  }

  /** Drops expired tokens; called on every insert and by the server's timer. */
  sweep(): void {
    const now = this.#now();
    for (const [token, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(token);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
