/** Fan-out of container lifecycle events to GetContainerEvents subscribers, with a bounded buffer each. */
import type { ContainerEventResponse } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";

/** Events a subscriber may fall behind by before it is dropped (containerd's event queue is similar in size). */
export const DEFAULT_EVENT_BUFFER = 1024;

interface Subscriber {
  queue: ContainerEventResponse[];
  wake: (() => void) | undefined;
  /** Why iteration ends once the queue drains: undefined = still live, null = ended cleanly. */
  end: CriError | null | undefined;
}

/**
 * Delivers every published event to every live subscriber. Publishing never
 * waits for a subscriber: a subscriber that falls `bufferSize` events behind
 * is dropped with a logged warning, and its iteration ends with
 * CriError(ResourceExhausted) after the events it already has, so it knows
 * events were lost rather than seeing a silent gap.
 */
export class EventHub {
  readonly #subscribers = new Set<Subscriber>();
  readonly #bufferSize: number;
  readonly #logger: Logger;

  constructor(logger: Logger, bufferSize = DEFAULT_EVENT_BUFFER) {
    this.#logger = logger;
    this.#bufferSize = bufferSize;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  publish(event: ContainerEventResponse): void {
    for (const sub of this.#subscribers) {
      if (sub.queue.length >= this.#bufferSize) {
        this.#logger.warn(
          `dropping a container event subscriber: ${this.#bufferSize} events unread (it is too slow)`,
        );
        this.#finish(
          sub,
          new CriError(
            "ResourceExhausted",
            `event subscriber dropped: it fell ${this.#bufferSize} events behind; subscribe again and resync with ListContainers`,
          ),
        );
        continue;
      }
      sub.queue.push(event);
      sub.wake?.();
    }
  }

  /**
   * Subscribes NOW (events published after this call are delivered) and
   * returns the stream; it ends when `signal` aborts or the hub closes.
   */
  subscribe(signal?: AbortSignal): AsyncIterable<ContainerEventResponse> {
    const sub: Subscriber = { queue: [], wake: undefined, end: undefined };
    const onAbort = () => this.#finish(sub, null);
    if (signal?.aborted) sub.end = null;
    else {
      this.#subscribers.add(sub);
      signal?.addEventListener("abort", onAbort, { once: true });
    }
    const detach = () => {
      signal?.removeEventListener("abort", onAbort);
      this.#finish(sub, null);
    };
    let iterated = false;
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<ContainerEventResponse> => {
        if (iterated) throw new TypeError("a container event stream can be iterated only once");
        iterated = true;
        return {
          next: async () => {
            for (;;) {
              const event = sub.queue.shift();
              if (event !== undefined) return { value: event, done: false };
              if (sub.end === null) {
                detach();
                return { value: undefined, done: true };
              }
              if (sub.end !== undefined) {
                detach();
                throw sub.end;
              }
              await new Promise<void>((resolve) => {
                sub.wake = resolve;
              });
              sub.wake = undefined;
            }
          },
          return: async () => {
            detach();
            sub.queue.length = 0;
            return { value: undefined, done: true };
          },
        };
      },
    };
  }

  /** Ends every subscription (service close). */
  close(): void {
    for (const sub of this.#subscribers) this.#finish(sub, null);
  }

  #finish(sub: Subscriber, end: CriError | null): void {
    this.#subscribers.delete(sub);
    if (sub.end === undefined) sub.end = end;
    sub.wake?.();
  }
}
