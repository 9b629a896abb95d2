/**
 * instrument(): the one wrapper every CRI service puts around its RPCs, as containerd's
 * instrumented_service.go does: answer Unavailable once closed, map faults that are not
 * CriErrors to Internal (logged once with their stack, which never reaches the client),
 * one debug line and one metrics observation per call, whichever transport it came in by.
 */
import { CriError, type CriErrorCode, isCriError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { CallOptions, CallTransport } from "./services.js";

/** One finished call, as metrics and access logs see it. */
export interface CallObservation {
  service: "runtime" | "image";
  /** The domain RPC name (`listContainers`). */
  rpc: string;
  /** From the call's options; "in-process" when an embedder called the service directly. */
  transport: CallTransport | "in-process";
  /** "OK", or the CriError code the call failed with. */
  code: "OK" | CriErrorCode;
  durationMs: number;
}

/** Receives one observation per call (for a server stream: per subscription, when it opens). */
export type CallObserver = (observation: CallObservation) => void;

export interface InstrumentOptions<S> {
  /** True once the service is closed: every call then answers Unavailable. */
  isClosed(): boolean;
  /** The debug line of each call is built only when `enabled("debug")` says it is written (or the logger has no `enabled`). */
  logger?: Pick<Logger, "debug" | "error" | "enabled">;
  observe?: CallObserver;
  /** Counts each call in progress until it settles (the service's close() drains it); streams are not counted. */
  inFlight?: InFlight;
  /** Methods `inFlight` does not count (an exec may run for minutes; close() does not wait for it). */
  untracked?: readonly (keyof S)[];
  /**
   * The methods that return an AsyncIterable instead of a Promise: they fail by
   * throwing at once (the caller has no promise to reject), and are observed when they open.
   */
  streams?: readonly (keyof S)[];
}

/** A service method: a CRI RPC is `(req, opts?: CallOptions)`; extension methods may take other arguments. */
type Method = (...args: never[]) => unknown;

const REPORTED = Symbol.for("servin.cri.reported");

/**
 * True when an instrumented service already logged and observed this error: the transports
 * then only translate it, and log nothing more (an Internal fault is logged once).
 *
 * @example
 * if (!wasReported(err)) logger.error("internal error", err);
 */
export function wasReported(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { [REPORTED]?: true })[REPORTED] === true;
}

/** The transport named by a call's options (the second argument of every CRI RPC). */
function transportOf(opts: unknown): CallTransport | "in-process" {
  const transport = typeof opts === "object" && opts !== null ? (opts as CallOptions).transport : undefined;
  return transport === "http" || transport === "grpc" ? transport : "in-process";
}

function markReported(err: CriError): CriError {
  // Not enumerable: never serialised, never part of an error body.
  if (!wasReported(err)) Object.defineProperty(err, REPORTED, { value: true });
  return err;
}

/**
 * Wraps every method of `methods` (an object of RPC handlers keyed by their
 * domain name) with the cross-cutting concerns; the result has the same type.
 *
 * @example
 * let closed = false;
 * const rpcs = instrument("image", { listImages: async () => ({ images: [] }) }, {
 *   isClosed: () => closed,
 *   logger: consola,
 *   observe: (o) => metrics.observe(o),
 * });
 * await rpcs.listImages({}, { transport: "grpc" }); // logs "image.listImages OK 0.1ms (grpc)"
 */
export function instrument<S extends { [K in keyof S]: Method }>(
  service: "runtime" | "image",
  methods: S,
  options: InstrumentOptions<S>,
): S {
  const streams = new Set<keyof S>(options.streams ?? []);
  const untracked = new Set<keyof S>(options.untracked ?? []);
  const logger = options.logger;
  const wrapped = {} as S;
  for (const rpc of Object.keys(methods) as (keyof S & string)[]) {
    const method = methods[rpc] as unknown as (...args: unknown[]) => unknown;
    const finish = (args: unknown[], started: number, err?: unknown): unknown => {
      const durationMs = performance.now() - started;
      let failure: CriError | undefined;
      if (err !== undefined) {
        failure = isCriError(err)
          ? err
          : CriError.internal(`${rpc}: ${err instanceof Error ? err.message : String(err)}`, err);
        // The stack goes to the log, once; the client sees the code and the message only.
        if (failure.code === "Internal" && !wasReported(failure))
          options.logger?.error(`${service}.${rpc} failed`, failure.cause ?? failure);
      }
      const code = failure?.code ?? "OK";
      const transport = transportOf(args[1]);
      // Not even built when dropped: a status call's debug line was a measurable share of its cost.
      if (logger && (logger.enabled?.("debug") ?? true))
        logger.debug(
          `${service}.${rpc} ${code} ${durationMs.toFixed(1)}ms (${transport})${failure ? `: ${failure.message}` : ""}`,
        );
      try {
        options.observe?.({ service, rpc, transport, code, durationMs });
      } catch (observerFault) {
        // Metrics must never fail a call.
        options.logger?.error(`${service}.${rpc}: the call observer failed`, observerFault);
      }
      return failure ? markReported(failure) : undefined;
    };
    const closedError = () => new CriError("Unavailable", `${rpc}: the ${service} service is closed`);
    const calls = untracked.has(rpc) ? undefined : options.inFlight;

    const call = streams.has(rpc)
      ? (...args: unknown[]): unknown => {
          const started = performance.now();
          try {
            if (options.isClosed()) throw closedError();
            const stream = method.apply(methods, args);
            finish(args, started);
            return stream;
          } catch (err) {
            throw finish(args, started, err);
          }
        }
      : async (...args: unknown[]): Promise<unknown> => {
          const started = performance.now();
          calls?.enter();
          try {
            if (options.isClosed()) throw closedError();
            const result = await method.apply(methods, args);
            finish(args, started);
            return result;
          } catch (err) {
            throw finish(args, started, err);
          } finally {
            calls?.leave();
          }
        };
    wrapped[rpc] = call as unknown as S[typeof rpc];
  }
  return wrapped;
}

/**
 * The calls a service has in progress, so that `close()` can let them settle before it closes the
 * backend under them (both services keep one; instrument() counts their calls in it). A count, not a
 * set of promises: counting a call costs no allocation.
 *
 * @example
 * const calls = new InFlight();
 * const rpcs = instrument("image", handlers, { isClosed: () => closed, inFlight: calls });
 * await calls.drain(); // in close(): every counted call has settled
 */
export class InFlight {
  #count = 0;
  #idle: (() => void)[] = [];

  /** One more call in progress; each enter() is matched by one leave(). */
  enter(): void {
    this.#count++;
  }

  /** A call settled; the last one wakes drain(). */
  leave(): void {
    if (this.#count === 0) throw new Error("InFlight.leave() without a matching enter()");
    if (--this.#count > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }

  /** How many calls are in progress. */
  get size(): number {
    return this.#count;
  }

  /** Resolves once no call is in progress, including calls started meanwhile. */
  async drain(): Promise<void> {
    while (this.#count > 0) await new Promise<void>((wake) => this.#idle.push(wake));
  }
}
