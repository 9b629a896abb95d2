/** Bearer-token middleware: constant-time comparison, so the token cannot be guessed byte by byte from timings. */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorBody } from "./errors.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

export function bearerAuth(token: string, publicPaths: string[]): MiddlewareHandler {
  // Comparing fixed-length digests keeps timingSafeEqual from leaking the token's length.
  const expected = digest(token);
  return async (c, next) => {
    if (publicPaths.includes(c.req.path)) return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      c.header("www-authenticate", 'Bearer realm="servin"');
      // The body is left unread (it may be a large upload): end the connection with the answer.
      c.header("connection", "close");
      return c.json(errorBody("Unauthenticated", "missing or invalid bearer token"), 401);
    }
    return next();
  };
}
