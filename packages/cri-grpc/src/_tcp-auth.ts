/**
 * Who may call over TCP: a bearer token per call, or nobody from an untrusted peer. Unix socket
 * connections are guarded by the socket file's mode and never pass through here; server.ts picks the
 * admission per listener (and per accepted peer).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { GrpcServerCall, GrpcStatusObject } from "./h2/grpc.js";

/** Decides one call: undefined admits it, a status refuses it. */
export type Admission = (call: GrpcServerCall) => GrpcStatusObject | undefined;

/** Calls that carry `authorization: Bearer <token>`. */
export function bearerTokenAdmission(token: string): Admission {
  return (call) =>
    bearerMatches(call.stream.headerValues("authorization"), token)
      ? undefined
      : {
          code: GrpcStatus.UNAUTHENTICATED,
          details: "missing or wrong bearer token (metadata authorization: Bearer <token>)",
        };
}

/** No call from a TCP peer that is not trusted. */
export const untrustedPeerAdmission: Admission = () => ({
  code: GrpcStatus.PERMISSION_DENIED,
  details: "this tcp peer is not trusted; use the unix socket",
});

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
