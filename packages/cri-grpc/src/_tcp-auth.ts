/**
 * Bearer-token admission for gRPC over TCP. Unix socket connections are guarded by the socket file's
 * mode and never pass through here; untrusted TCP peers are refused per connection in server.ts.
 */
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** True when one of the `authorization` values is `Bearer <token>` (scheme in any case); compared in constant time. */
export function bearerMatches(authorization: readonly string[], token: string): boolean {
  const expected = digest(token);
  let ok = false;
  for (const text of authorization) {
    const match = /^bearer +(.*)$/i.exec(text.trim());
    // Hashing first makes the comparison independent of the presented token's length.
    if (match && timingSafeEqual(digest(match[1] as string), expected)) ok = true;
  }
  return ok;
}
