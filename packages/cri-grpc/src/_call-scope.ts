/** Per-call cancellation: one AbortSignal that fires when the client cancels, the deadline passes, or the server stops. */
import { CriError } from "@servin/cri-types";

/** What the scope needs of a server call (h2/grpc.ts GrpcServerCall, unary or streaming). */
interface CancellableCall {
  on(event: "cancelled", listener: () => void): unknown;
  /** When the deadline passes, ms since the epoch (Infinity without one). */
  getDeadline(): number;
}

/** How early before our view of the deadline a client's cancel still counts as its deadline passing. */
export const DEADLINE_SLACK_MS = 1000;

export interface CallScope {
  readonly signal: AbortSignal;
  /** Long-lived streams (GetContainerEvents) are ended at once when the server closes. */
  readonly longLived: boolean;
  /** Every call scoped here came by gRPC: the scope is the call's CallOptions as it is. */
  readonly transport: "grpc";
  abort(reason: CriError): void;
  dispose(): void;
}

/**
 * The calls in flight, so that the server can end them when it closes. A list through the scopes
 * themselves: opening and disposing a call allocates nothing (a Set that empties after each call
 * reallocates its table every time, in a runtime call).
 */
export class CallScopes implements Iterable<CallScope> {
  /** @internal */ head: GrpcCallScope | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** @internal */
  add(scope: GrpcCallScope): void {
    scope.next = this.head;
    if (this.head) this.head.prev = scope;
    this.head = scope;
    this.#size++;
  }

  /** @internal Idempotent. */
  delete(scope: GrpcCallScope): void {
    if (scope.prev === undefined && this.head !== scope) return; // not in the list (any more)
    if (scope.prev) scope.prev.next = scope.next;
    else this.head = scope.next;
    if (scope.next) scope.next.prev = scope.prev;
    scope.prev = undefined;
    scope.next = undefined;
    this.#size--;
  }

  /** A snapshot: aborting or disposing scopes while walking it is safe. */
  [Symbol.iterator](): Iterator<CallScope> {
    const all: CallScope[] = [];
    for (let s = this.head; s; s = s.next) all.push(s);
    return all[Symbol.iterator]();
  }
}

/**
 * One call's scope, and its CallOptions for the service (`signal`, `transport`): one object per call,
 * no closures. The AbortController is made when someone asks for the signal: status and list calls
 * never do, and making one was a measurable share of such a call. `signal` is a getter of the class:
 * a service reads `opts.signal`; a copy by spreading (`{ ...opts }`) would not carry it.
 */
class GrpcCallScope implements CallScope {
  readonly transport = "grpc";
  private controller: AbortController | undefined;
  private reason: CriError | undefined;
  private disposed = false;
  /** @internal The neighbours in its CallScopes. */
  prev: GrpcCallScope | undefined;
  next: GrpcCallScope | undefined;

  constructor(
    private readonly registry: CallScopes,
    readonly longLived: boolean,
    /** When the call's deadline passes, ms since the epoch (Infinity without one). */
    private readonly deadline: number,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.reason) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(why: CriError): void {
    if (this.reason) return;
    this.reason = why;
    this.controller?.abort(why);
  }

  dispose(): void {
    this.disposed = true;
    this.registry.delete(this);
  }

  /**
   * A client whose deadline passes cancels the stream (RST_STREAM CANCEL), exactly as an explicit
   * cancel does, so only the time tells the two apart. The server's deadline is the client's timeout
   * counted from when the request *arrived*, so it lies later than the client's by the request's
   * transit and queueing time (hundreds of ms on a loaded host): a cancel within DEADLINE_SLACK_MS of
   * our deadline is the client's deadline passing. The server's own deadline timer (h2/grpc.ts)
   * cancels the call the same way. A "cancelled" after the call was answered builds no error (its
   * stack trace was a measurable share of a call).
   */
  cancelled(): void {
    if (this.disposed || this.reason) return;
    this.abort(
      Date.now() >= this.deadline - DEADLINE_SLACK_MS
        ? new CriError("DeadlineExceeded", "call deadline exceeded")
        : new CriError("Aborted", "call cancelled by the client"),
    );
  }
}

/**
 * Opens a scope for one call and registers it in `registry` until disposed,
 * so that the server can end every in-flight call on forced shutdown.
 */
export function openCallScope(call: CancellableCall, registry: CallScopes, longLived = false): CallScope {
  const scope = new GrpcCallScope(registry, longLived, call.getDeadline());
  registry.add(scope);
  call.on("cancelled", () => scope.cancelled());
  return scope;
}
