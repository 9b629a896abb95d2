/**
 * Who may call over TCP: a bearer token checked on every call, or a verdict
 * on the peer taken once per connection. Unix socket connections are guarded
 * by the socket file's mode and never pass through here.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import {
  status as GrpcStatus,
  Metadata,
  ServerInterceptingCall,
  type ServerInterceptor,
} from "@grpc/grpc-js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** True when `metadata` carries `authorization: Bearer <token>`; compared in constant time. */
export function bearerMatches(metadata: Metadata, token: string): boolean {
  const expected = digest(token);
  let ok = false;
  for (const value of metadata.get("authorization")) {
    const text = typeof value === "string" ? value : value.toString("latin1");
    const match = /^bearer +(.*)$/i.exec(text.trim());
    // Hashing first makes the comparison independent of the presented token's length.
    if (match && timingSafeEqual(digest(match[1] as string), expected)) ok = true;
  }
  return ok;
}

/** Answers every call that lacks the bearer token with UNAUTHENTICATED, before its handler runs. */
export function bearerTokenInterceptor(token: string): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, pass) {
            if (bearerMatches(metadata, token)) pass(metadata);
            else
              call.sendStatus({
                code: GrpcStatus.UNAUTHENTICATED,
                details: "missing or wrong bearer token (metadata authorization: Bearer <token>)",
                metadata: new Metadata(),
              });
          },
        });
      },
    });
}

/** Answers every call with PERMISSION_DENIED: the server for connections from untrusted TCP peers. */
export function denyAllInterceptor(details: string): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata() {
            call.sendStatus({ code: GrpcStatus.PERMISSION_DENIED, details, metadata: new Metadata() });
          },
        });
      },
    });
}
