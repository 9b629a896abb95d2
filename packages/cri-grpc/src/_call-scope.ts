/** Per-call cancellation: one AbortSignal that fires when the client cancels, the deadline passes, or the server stops. */
import { CriError } from "@servin/cri-types";

/** What the scope needs of a grpc-js server call (unary or streaming). */
interface CancellableCall {
  on(event: "cancelled", listener: () => void): unknown;
  getDeadline(): Date | number;
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
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let disposed = false;

  const scope: CallScope = {
    signal: controller.signal,
    longLived,
    abort(reason) {
      if (!controller.signal.aborted) controller.abort(reason);
    },
    dispose() {
      disposed = true;
      if (timer) clearTimeout(timer);
      registry.delete(scope);
    },
  };
  registry.add(scope);

  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const deadlineExceeded = () => new CriError("DeadlineExceeded", "call deadline exceeded");

  // A client whose deadline passes cancels the stream (RST_STREAM CANCEL), exactly as an
  // explicit cancel does, so only the time tells the two apart. The server's deadline is
  // the client's timeout counted from when the request *arrived*, so it lies later than the
  // client's by the request's transit and queueing time (hundreds of ms on a loaded host):
  // a cancel within DEADLINE_SLACK_MS of our deadline is the client's deadline passing.
  // grpc-js also emits "cancelled" when the stream closes after the answer was sent: the call is
  // over by then, so build no error (its stack trace was a measurable share of a status call).
  call.on("cancelled", () => {
    if (disposed || controller.signal.aborted) return;
    scope.abort(
      Date.now() >= at - DEADLINE_SLACK_MS
        ? deadlineExceeded()
        : new CriError("Aborted", "call cancelled by the client"),
    );
  });

  // Belt and braces: the service learns of the deadline even if no cancel event comes.
  if (Number.isFinite(at)) {
    timer = setTimeout(() => scope.abort(deadlineExceeded()), Math.max(0, at - Date.now()));
    timer.unref();
  }
  return scope;
}
