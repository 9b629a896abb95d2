/**
 * One generic handler factory for every CRI gRPC method (served by ./h2/grpc.ts): decode the proto
 * request with @servin/cri-messages, call the domain service with an
 * AbortSignal, encode the answer, map errors through the status table.
 */
import { status as GrpcStatus, type ServiceDefinition } from "@grpc/grpc-js";
import {
  type CriServices,
  decodeRequest,
  dispatchRpc,
  encodeResponse,
  RPCS,
  type RpcName,
} from "@servin/cri-messages";
import {
  type CallObserver,
  type CallOptions,
  toCriError,
  type VersionResponse,
  wasReported,
} from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import { type CallScope, type CallScopes, openCallScope } from "./_call-scope.js";
import { LIST_STREAM_CHUNK, type MethodSpec } from "./_rpc-table.js";
import type { GrpcMethod, GrpcServerCall } from "./h2/grpc.js";
import type { VersionInfo } from "./options.js";
import type { CriApiVersion } from "./proto.js";
import { grpcStatusOf } from "./status.js";

export interface HandlerContext {
  /** The services the calls are dispatched to. */
  services: CriServices;
  apiVersion: CriApiVersion;
  versionInfo: VersionInfo;
  logger: Logger;
  /** Every call in flight, so that close() can end them. */
  scopes: CallScopes;
  /** Observes calls refused before a service saw them (malformed message, …); services observe the rest. */
  onRefused?: CallObserver | undefined;
}

type WireObject = Record<string, unknown>;

/** The served methods of one service, from its definition (paths, codecs) and method table. */
export function implementService(
  definition: ServiceDefinition,
  table: Readonly<Record<string, MethodSpec>>,
  ctx: HandlerContext,
): GrpcMethod[] {
  return Object.entries(definition).map(([name, def]) => ({
    path: def.path,
    responseStream: def.responseStream,
    decode: def.requestDeserialize as (bytes: Buffer) => unknown,
    encode: def.responseSerialize as (message: unknown) => Buffer,
    // A method of the .proto that the table does not know is answered UNIMPLEMENTED, never dropped.
    handler: makeHandler(name, table[name] ?? { kind: "unimplemented" }, ctx),
  }));
}

type Handler = (call: GrpcServerCall) => void;

function makeHandler(name: string, spec: MethodSpec, ctx: HandlerContext): Handler {
  switch (spec.kind) {
    case "unary":
      return unaryHandler(name, spec.rpc, ctx);
    case "events":
      return streamHandler(name, spec.rpc, ctx, true, async (raw, scope, write) => {
        const req = decodeRequest(spec.rpc, raw, "proto");
        const events = invoke(ctx, spec.rpc, req, scope) as AsyncIterable<unknown>;
        await forEachUntilAborted(events, scope.signal, (event) =>
          write(encodeResponse(spec.rpc, event as never, "proto")),
        );
      });
    case "list-stream":
      return streamHandler(name, spec.rpc, ctx, false, async (raw, scope, write) => {
        const req = decodeRequest(spec.rpc, raw, "proto");
        const result = await invoke(ctx, spec.rpc, req, scope);
        const wire = encodeResponse(spec.rpc, result as never, "proto") as WireObject;
        const items = (wire[spec.from] as unknown[] | undefined) ?? [];
        // The CRI wants at least one item per message, so an empty list sends no message at all.
        for (let i = 0; i < items.length; i += LIST_STREAM_CHUNK) {
          await write({ [spec.to]: items.slice(i, i + LIST_STREAM_CHUNK) });
        }
      });
    case "unimplemented":
      return (call) =>
        call.end({ code: GrpcStatus.UNIMPLEMENTED, details: `${name} is not implemented by servin` });
  }
}

function unaryHandler(name: string, rpc: RpcName, ctx: HandlerContext): Handler {
  // One async function per call (no promise chain of its own): a status call's whole gRPC side.
  return async (call) => {
    const scope = openCallScope(call, ctx.scopes);
    const started = performance.now();
    try {
      const req = decodeRequest(rpc, call.request, "proto");
      let result = await invoke(ctx, rpc, req, scope);
      if (rpc === "version") {
        // The same service answers both packages; only the API version differs.
        result = { ...(result as VersionResponse), ...ctx.versionInfo, runtimeApiVersion: ctx.apiVersion };
      }
      call.sendUnary(encodeResponse(rpc, result as never, "proto"));
    } catch (err) {
      call.end(failure(name, rpc, started, err, ctx));
    } finally {
      scope.dispose();
    }
  };
}

type Writer = (message: unknown) => Promise<void>;

function streamHandler(
  name: string,
  rpc: RpcName,
  ctx: HandlerContext,
  longLived: boolean,
  body: (raw: unknown, scope: CallScope, write: Writer) => Promise<void>,
): Handler {
  return (call) => {
    const scope = openCallScope(call, ctx.scopes, longLived);
    const started = performance.now();
    // call.write waits for flow control and the socket: a slow reader never makes us buffer without bound.
    const write: Writer = (message) => (scope.signal.aborted ? Promise.resolve() : call.write(message));
    body(call.request, scope, write)
      .then(
        () => finish(scope),
        (err) => finish(scope, err),
      )
      .catch((err) => ctx.logger.error(`grpc ${name}: ending the stream failed`, err))
      .finally(() => scope.dispose());

    function finish(scope: CallScope, err?: unknown) {
      if (call.cancelled) return; // the client is gone; nothing to send
      const reason = scope.signal.aborted ? (scope.signal.reason as unknown) : undefined;
      const cause = err ?? reason;
      if (cause === undefined) call.end();
      else call.end(failure(name, rpc, started, cause, ctx));
    }
  };
}

/** Calls `fn` for each item until the iterable ends or `signal` aborts, even if the iterable ignores the signal. */
async function forEachUntilAborted<T>(
  items: AsyncIterable<T>,
  signal: AbortSignal,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = items[Symbol.asyncIterator]();
  const aborted = new Promise<"aborted">((resolve) => {
    if (signal.aborted) resolve("aborted");
    signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  try {
    while (true) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next === "aborted" || next.done) return;
      await fn(next.value);
    }
  } finally {
    // Tell the producer we are done (unsubscribes it); do not wait for a producer that may be stuck.
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
}

/**
 * Calls the service with the call's scope as its CallOptions: the signal is made only if the service
 * reads it, and `transport` lets the service's metrics tell gRPC calls apart.
 */
function invoke(ctx: HandlerContext, rpc: RpcName, req: unknown, scope: CallScope): unknown {
  const opts: CallOptions = scope;
  return dispatchRpc(ctx.services, rpc, req as never, opts);
}

/** The grpc status for a failed call; faults that are not the caller's are logged. */
function failure(
  name: string,
  rpc: RpcName,
  started: number,
  err: unknown,
  ctx: HandlerContext,
): { code: GrpcStatus; details: string } {
  const cri = toCriError(err);
  // A service's instrument() already logged (and counted) what it answered: say nothing twice.
  if (wasReported(cri)) return grpcStatusOf(cri);
  ctx.onRefused?.({
    service: RPCS[rpc].service,
    rpc,
    transport: "grpc",
    code: cri.code,
    durationMs: performance.now() - started,
  });
  if (cri.code === "Internal") ctx.logger.error(`grpc ${name}: ${cri.message}`, cri.cause ?? cri);
  else ctx.logger.debug(`grpc ${name}: ${cri.code}: ${cri.message}`);
  return grpcStatusOf(cri);
}
