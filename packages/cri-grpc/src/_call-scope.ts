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
  abort(reason: CriError): void;
  dispose(): void;
}

/**
 * Opens a scope for one call and registers it in `registry` until disposed,
 * so that the server can end every in-flight call on forced shutdown.
 */
export function openCallScope(call: CancellableCall, registry: Set<CallScope>, longLived = false): CallScope {
  // The AbortController is made when someone asks for the signal: status and list calls never do,
  // and making one was a measurable share of such a call.
  let controller: AbortController | undefined;
  let reason: CriError | undefined;
  let disposed = false;

  const scope: CallScope = {
    get signal() {
      if (!controller) {
        controller = new AbortController();
        if (reason) controller.abort(reason);
      }
      return controller.signal;
    },
    longLived,
    abort(why) {
      if (reason) return;
      reason = why;
      controller?.abort(why);
    },
    dispose() {
      disposed = true;
      registry.delete(scope);
    },
  };
  registry.add(scope);

  const at = call.getDeadline();

  // A client whose deadline passes cancels the stream (RST_STREAM CANCEL), exactly as an
  // explicit cancel does, so only the time tells the two apart. The server's deadline is
  // the client's timeout counted from when the request *arrived*, so it lies later than the
  // client's by the request's transit and queueing time (hundreds of ms on a loaded host):
  // a cancel within DEADLINE_SLACK_MS of our deadline is the client's deadline passing.
  // The server's own deadline timer (h2/grpc.ts) cancels the call the same way. A "cancelled"
  // after the call was answered builds no error (its stack trace was a measurable share of a call).
  call.on("cancelled", () => {
    if (disposed || reason) return;
    scope.abort(
      Date.now() >= at - DEADLINE_SLACK_MS
        ? new CriError("DeadlineExceeded", "call deadline exceeded")
        : new CriError("Aborted", "call cancelled by the client"),
    );
  });
  return scope;
}
