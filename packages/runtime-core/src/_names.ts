/**
 * Name reservation (containerd's registrar): one pod sandbox per
 * name_namespace_uid_attempt, one container per name_attempt within a pod.
 *
 * Kubelet gives RunPodSandbox and CreateContainer 2 minutes, then retries
 * with the same name. Our choice (CRI-O's, not containerd's): a create whose
 * caller gave up keeps running in the background; the reservation remembers
 * that its caller abandoned it. A retry with the same name AND an identical
 * config adopts it: it waits for the in-flight create (or takes the finished
 * object) and returns its ID, so the retry succeeds instead of looping on
 * "name is reserved". If the abandoned create fails, its undo steps release
 * the name and the retry starts a fresh create. Any other second reservation
 * is AlreadyExists naming the holder, until the holder is removed.
 */
import { CriError } from "@servin/cri-types";
import { newId } from "./_ids.js";
import { deepEqual } from "./_json.js";

export interface Reservation<Id extends string> {
  readonly id: Id;
  /** The config the holder was created from; a retry must match it to adopt the holder. */
  readonly config: unknown;
  /** Set while the create is in flight. */
  creation?: Promise<Id>;
  /** True when the caller that started (or last adopted) the create stopped waiting for it. */
  abandoned: boolean;
}

export class NameRegistry<Id extends string> {
  readonly #byKey = new Map<string, Reservation<Id>>();

  get(key: string): Reservation<Id> | undefined {
    return this.#byKey.get(key);
  }

  /** Records an existing object's name (on restart). */
  set(key: string, id: Id, config: unknown): void {
    this.#byKey.set(key, { id, config, abandoned: false });
  }

  /** Frees `key` if `id` still holds it. */
  release(key: string, id: Id): void {
    if (this.#byKey.get(key)?.id === id) this.#byKey.delete(key);
  }

  /** Places a fresh reservation; the caller has checked that `key` is free. */
  reserve(key: string, id: Id, config: unknown): Reservation<Id> {
    const reservation: Reservation<Id> = { id, config, abandoned: false };
    this.#byKey.set(key, reservation);
    return reservation;
  }
}

export interface ClaimOptions<Id extends string> {
  registry: NameRegistry<Id>;
  key: string;
  config: unknown;
  /** For messages: `pod sandbox name "web_default_uid_0"`. */
  describe: string;
  signal: AbortSignal | undefined;
  /** Registers background work so close() can wait for it. */
  track: (work: Promise<unknown>) => void;
  /** Does the create under the fresh reservation; must release the name itself on failure. */
  create: (id: Id) => Promise<void>;
  /** Reports a background create that failed after its caller gave up. */
  onAbandonedFailure: (id: Id, err: unknown) => void;
}

/**
 * Reserves `key` and runs `create`, or adopts an abandoned holder with the
 * same config. Resolves with the object's ID once it exists.
 */
export async function claimOrCreate<Id extends string>(o: ClaimOptions<Id>): Promise<Id> {
  throwIfAborted(o.signal);
  for (;;) {
    const holder = o.registry.get(o.key);
    if (holder === undefined) break;
    if (!holder.abandoned || !deepEqual(holder.config, o.config)) {
      throw CriError.alreadyExists(`${o.describe} is reserved for "${holder.id}"`);
    }
    // Adopt the abandoned holder: this caller now waits for it.
    holder.abandoned = false;
    if (holder.creation === undefined) return holder.id;
    try {
      return await waitFor(holder.creation, o.signal, () => {
        holder.abandoned = true;
      });
    } catch (err) {
      if (o.signal?.aborted) throw err;
      // The adopted create failed and released the name: try a fresh create.
    }
  }

  const id = newId<Id>();
  const reservation = o.registry.reserve(o.key, id, o.config);
  const creation = o.create(id).then(() => id);
  reservation.creation = creation;
  o.track(
    creation.then(
      () => {
        reservation.creation = undefined;
      },
      (err: unknown) => {
        reservation.creation = undefined;
        if (reservation.abandoned) o.onAbandonedFailure(id, err);
      },
    ),
  );
  return waitFor(creation, o.signal, () => {
    reservation.abandoned = true;
  });
}

/** Waits for `work` unless `signal` aborts first; the work itself keeps going either way. */
function waitFor<T>(work: Promise<T>, signal: AbortSignal | undefined, onAbort: () => void): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort();
      reject(abortError(signal));
    };
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", abort);
        reject(err);
      },
    );
  });
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** The error a caller sees when it stops waiting: the signal's CriError reason, else DeadlineExceeded. */
export function abortError(signal: AbortSignal): CriError {
  const reason: unknown = signal.reason;
  if (reason instanceof CriError) return reason;
  return new CriError(
    "DeadlineExceeded",
    "request cancelled before it completed; the create goes on and a retry with the same name and config returns its result",
  );
}
