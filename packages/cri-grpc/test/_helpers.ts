/** Test helpers: temp dirs, polling for a condition (never a timed assertion), raw grpc calls. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { criServiceDefinitions } from "../src/proto.js";

/** A short temp dir (unix socket paths are limited to 107 bytes). */
export async function tempDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "sgrpc-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Waits until `cond()` holds; fails with `what` after a generous bound (a hang guard, not a timing check). */
export async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Calls a method with a plain grpc-js client and the project's serializers (and `metadata`); resolves to the status code (0 = OK). */
export function rawUnary(
  target: string,
  service: "RuntimeService" | "ImageService",
  method: string,
  request: unknown,
  version: "v1" | "v1alpha2" = "v1",
  metadata: Metadata = new Metadata(),
): Promise<{ code: number; details: string; response?: unknown }> {
  const def = criServiceDefinitions(version)[service][method];
  if (!def) throw new Error(`no method ${method}`);
  const client = new Client(target, credentials.createInsecure());
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      metadata,
      {},
      (err: ServiceError | null, response?: unknown) => {
        client.close();
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: "", response });
      },
    );
  });
}

/** Reads a whole server stream with a plain grpc-js client. */
export function rawServerStream(
  target: string,
  service: "RuntimeService" | "ImageService",
  method: string,
  request: unknown,
): Promise<{ code: number; details: string; messages: unknown[] }> {
  const def = criServiceDefinitions("v1")[service][method];
  if (!def) throw new Error(`no method ${method}`);
  const client = new Client(target, credentials.createInsecure());
  const messages: unknown[] = [];
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      request,
      new Metadata(),
      {},
    );
    call.on("data", (m) => messages.push(m));
    call.on("error", (err: ServiceError) => {
      client.close();
      resolve({ code: err.code, details: err.details, messages });
    });
    call.on("end", () => {
      client.close();
      resolve({ code: 0, details: "", messages });
    });
  });
}
