import { CriError } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { TokenCache } from "./tokens.js";

describe("TokenCache", () => {
  it("hands a token out once", () => {
    const cache = new TokenCache<string>();
    const token = cache.insert("exec");
    expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(cache.take(token)).toBe("exec");
    expect(cache.take(token)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("expires tokens after the ttl and sweeps them", () => {
    let now = 1_000;
    const cache = new TokenCache<string>({ ttlMs: 60_000, now: () => now });
    const a = cache.insert("a");
    now += 59_999;
    const b = cache.insert("b");
    expect(cache.take(a)).toBe("a");
    now += 60_000;
    expect(cache.take(b)).toBeUndefined();
    cache.insert("c");
    now += 60_000;
    cache.sweep();
    expect(cache.size).toBe(0);
  });

  it("refuses more pending tokens than its limit with ResourceExhausted", () => {
    const cache = new TokenCache<number>({ maxPending: 2 });
    cache.insert(1);
    cache.insert(2);
    const error = (() => {
      try {
        cache.insert(3);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CriError);
    expect((error as CriError).code).toBe("ResourceExhausted");
  });

  it("makes distinct tokens", () => {
    const cache = new TokenCache<number>();
    const tokens = new Set(Array.from({ length: 500 }, (_, i) => cache.insert(i)));
    expect(tokens.size).toBe(500);
  });
});
