/**
 * Layer unpacks on worker threads: the untar (decompression, diffID hash, path checks, file
 * creation) of each layer runs on a worker of its own with synchronous file calls, so the main
 * thread only moves bytes and a pull spreads over the cores. The worker runs the same
 * `unpackLayer`: same checks, same errors.
 *
 * A worker is a V8 isolate of its own (a few MB of heap, ~30 ms to start), so:
 * - a small layer never gets one: the first SMALL_LAYER bytes of the stored blob are read before
 *   choosing, and a layer that ends within them unpacks on the main thread (busybox, pause: the
 *   pull of a small image starts no thread at all);
 * - workers are made when a layer needs one (at most MAX_WORKERS; past that a layer unpacks on the
 *   main thread) and end BETWEEN_MS after their last layer while other layers are still unpacking
 *   (the next layer of the pull takes it), LAST_MS after it once none is: a pull that follows within
 *   seconds (kubelet pulls a pod's images one after the other) gets them warm instead of starting and
 *   compiling new isolates (a third of a 305 MiB pull's CPU above containerd's, issue 13), and an idle
 *   daemon holds none.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { DecompressionLimitError } from "./_decompress.js";
import type { MeteredCallback, SharedMeter } from "./_limits.js";
import { TarFormatError } from "./_tar-reader.js";
import { UnpackError, type UnpackOptions, type UnpackResult, unpackLayer } from "./_unpack.js";

/** The options of an unpack as they cross to the worker (no source, no callbacks). */
export interface WorkerUnpackOptions {
  dir: string;
  expectedDiffId: string;
  maxBytes: number;
  maxBytesNote?: string;
  maxEntries: number;
  privileged: boolean;
  dirMade?: boolean;
}

export type ToWorker =
  | { type: "start"; opts: WorkerUnpackOptions; meter?: SharedMeter }
  | { type: "chunk"; data: ArrayBuffer }
  | { type: "end" }
  | { type: "abort" };

export type FromWorker =
  | { type: "ack"; bytes: number; size: number }
  | { type: "done"; result: UnpackResult }
  | { type: "error"; name: string; message: string; code?: string };

const MAX_WORKERS = 3;
/** How the pool decides; `configureUnpackPool` changes it (tests). */
const config = {
  /** A layer whose stored blob ends within this many bytes unpacks on the main thread. */
  smallLayerBytes: 2 << 20,
  /** An idle worker's life while other layers are unpacking. */
  betweenMs: 2_000,
  /** An idle worker's life once no layer is unpacking (the pull ended): the next pull's, if it comes soon. */
  lastMs: 5_000,
};
/** A worker's young generation: its allocations are mostly Buffers (outside the V8 heap). */
const WORKER_YOUNG_MB = 4;
/** Bytes sent to a worker and not yet taken by its unpacker: the hand-off's memory bound. */
const IN_FLIGHT = 4 << 20;
/** Chunks are copied into messages of about this size (fewer messages than network chunks). */
const MESSAGE = 256 << 10;

interface Slot {
  worker: Worker;
  idle?: NodeJS.Timeout;
  onMessage?: (m: FromWorker) => void;
  onFail?: (err: Error) => void;
}

const idle: Slot[] = [];
/** Every worker alive, busy or idle. */
const slots = new Set<Slot>();
/** Unpacks under way, on a worker or on this thread. */
let active = 0;
const disabled = process.env.SERVIN_UNPACK_WORKERS === "0";

/** The unpack worker died (not a fault of the layer it was unpacking): answered as Internal. */
export class UnpackWorkerError extends Error {}

/** Built: dist/_unpack-worker.js next to this module. Sources (vitest, tsx): the .ts file, through tsx. */
function newWorker(): Worker | undefined {
  const js = new URL("./_unpack-worker.js", import.meta.url);
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_MB };
  if (existsSync(fileURLToPath(js))) return new Worker(js, { resourceLimits });
  const ts = new URL("./_unpack-worker.ts", import.meta.url);
  if (!existsSync(fileURLToPath(ts))) return undefined;
  // Only when running from sources: tsx (a dev dependency) loads the TypeScript worker.
  const api = pathToFileURL(
    createRequire(import.meta.url)
      .resolve("tsx/esm/api")
      .replace(/\.cjs$/, ".mjs"),
  );
  const boot = `import { tsImport } from ${JSON.stringify(api.href)}; await tsImport(${JSON.stringify(ts.href)}, ${JSON.stringify(import.meta.url)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { resourceLimits });
}

function spawnSlot(): Slot | undefined {
  // No worker file (a package built without it): this layer unpacks on the main thread.
  const worker = newWorker();
  if (!worker) return undefined;
  const slot: Slot = { worker };
  slots.add(slot);
  worker.on("message", (m: FromWorker) => slot.onMessage?.(m));
  let ended = false;
  const gone = (err: Error) => {
    if (ended) return;
    ended = true;
    slots.delete(slot);
    const i = idle.indexOf(slot);
    if (i >= 0) idle.splice(i, 1);
    if (slot.idle) clearTimeout(slot.idle);
    const fail = slot.onFail;
    slot.onFail = undefined;
    slot.onMessage = undefined;
    fail?.(err);
  };
  // The worker itself failing (out of memory, a bug of ours) is this host's fault, not the layer's.
  worker.on("error", (err) => gone(new UnpackWorkerError(`unpack worker failed: ${err.message}`)));
  worker.on("exit", (code) => gone(new UnpackWorkerError(`unpack worker exited (${code})`)));
  return slot;
}

function take(): Slot | undefined {
  if (disabled) return undefined;
  const slot = idle.pop();
  if (slot) {
    if (slot.idle) clearTimeout(slot.idle);
    slot.idle = undefined;
    slot.worker.ref();
    return slot;
  }
  if (slots.size >= MAX_WORKERS) return undefined;
  return spawnSlot();
}

/** Ends an idle worker in `ms`. */
function expire(slot: Slot, ms: number): void {
  if (slot.idle) clearTimeout(slot.idle);
  slot.idle = setTimeout(() => {
    const i = idle.indexOf(slot);
    if (i >= 0) idle.splice(i, 1);
    void slot.worker.terminate();
  }, ms);
  slot.idle.unref();
}

function release(slot: Slot): void {
  slot.onMessage = undefined;
  slot.onFail = undefined;
  slot.worker.unref();
  idle.push(slot);
  expire(slot, active > 0 ? config.betweenMs : config.lastMs);
}

/** One unpack ended (called after its worker, if any, was released): the last one shortens every idle worker's life. */
function ended(): void {
  active--;
  if (active === 0) for (const slot of idle) expire(slot, config.lastMs);
}

/**
 * Test-only: changes how the pool decides (e.g. `smallLayerBytes: 0` sends every layer to a worker);
 * returns the previous settings.
 */
export function configureUnpackPool(next: Partial<typeof config>): typeof config {
  const prev = { ...config };
  Object.assign(config, next);
  return prev;
}

/** Ends every unpack worker now; a layer one was unpacking rejects with UnpackWorkerError. */
export async function terminateUnpackWorkers(): Promise<void> {
  await Promise.all([...slots].map((slot) => slot.worker.terminate()));
}

/** Test-only: how many unpack workers exist and how many of them are idle. */
export function unpackWorkers(): { live: number; idle: number } {
  return { live: slots.size, idle: idle.length };
}

/** The worker's error as the class the unpacker threw (messages and errno codes kept). */
function revive(m: { name: string; message: string; code?: string }): Error {
  const Cls =
    m.name === "UnpackError"
      ? UnpackError
      : m.name === "DecompressionLimitError"
        ? DecompressionLimitError
        : m.name === "TarFormatError"
          ? TarFormatError
          : Error;
  const err = new Cls(m.message) as NodeJS.ErrnoException;
  if (m.code) err.code = m.code;
  return err;
}

/**
 * Unpacks a layer on a worker thread when one is free, else on this thread; same result, same
 * errors as `unpackLayer`. Resolves or rejects only once the worker stopped touching `opts.dir`.
 */
export async function unpackLayerOffThread(opts: UnpackOptions): Promise<UnpackResult> {
  active++;
  try {
    return await unpackSomewhere(opts);
  } finally {
    ended();
  }
}

async function unpackSomewhere(opts: UnpackOptions): Promise<UnpackResult> {
  if (disabled) return unpackLayer(opts);
  // The first bytes decide: a layer that ends within them is not worth a thread.
  const source = opts.source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let whole = false;
  let dirMade = false;
  while (headBytes < config.smallLayerBytes) {
    const r = await source.next();
    if (r.done) {
      whole = true;
      break;
    }
    if (!dirMade) {
      // The unpack began with the first byte, wherever it runs: its directory exists from then on,
      // and the caller hears so (a cancel or a digest failure from here on has a snapshot to remove).
      await mkdir(opts.dir, { mode: 0o755 });
      dirMade = true;
      opts.onBytes?.(0);
    }
    head.push(r.value);
    headBytes += r.value.byteLength;
  }
  // The bytes read so far, then (unless it ended) the rest of the source; `return` reaches the source.
  const it: AsyncIterator<Uint8Array> = {
    next: () => {
      const chunk = head.shift();
      if (chunk) return Promise.resolve({ done: false, value: chunk });
      if (whole) return Promise.resolve({ done: true, value: undefined });
      return source.next();
    },
    return: (v?: unknown) => source.return?.(v) ?? Promise.resolve({ done: true, value: undefined }),
  };
  const slot = whole ? undefined : take();
  if (!slot) return unpackLayer({ ...opts, source: { [Symbol.asyncIterator]: () => it }, dirMade });
  const meter = (opts.onBytes as MeteredCallback | undefined)?.meter;
  let credit = IN_FLIGHT;
  let wakeSender: (() => void) | undefined;
  let settled = false;
  let stopWaiter: ((v: undefined) => void) | undefined;
  let progressError: unknown;
  const finished = new Promise<UnpackResult>((resolve, reject) => {
    slot.onMessage = (m) => {
      if (m.type === "ack") {
        credit += m.bytes;
        if (!meter && progressError === undefined && m.size > 0) {
          try {
            opts.onBytes?.(m.size);
          } catch (err) {
            progressError = err;
            slot.worker.postMessage({ type: "abort" } satisfies ToWorker);
          }
        }
      } else {
        settled = true;
        stopWaiter?.(undefined);
        if (m.type === "done") resolve(m.result);
        else reject(revive(m));
      }
      const w = wakeSender;
      wakeSender = undefined;
      w?.();
    };
    slot.onFail = (err) => {
      settled = true;
      stopWaiter?.(undefined);
      reject(err);
      const w = wakeSender;
      wakeSender = undefined;
      w?.();
    };
  });
  finished.catch(() => undefined);
  const { source: _source, onBytes, syncFiles: _sync, ...rest } = opts;
  try {
    // Made here, so that the snapshot directory exists once the caller hears the unpack began.
    if (!dirMade) await mkdir(opts.dir, { mode: 0o755 });
  } catch (err) {
    release(slot);
    throw err;
  }
  slot.worker.postMessage({
    type: "start",
    opts: { ...rest, dirMade: true },
    ...(meter ? { meter } : {}),
  } satisfies ToWorker);
  let begun = false;
  let sourceError: unknown;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const ab = new ArrayBuffer(pendingBytes);
    const view = new Uint8Array(ab);
    let off = 0;
    for (const c of pending) {
      view.set(c, off);
      off += c.length;
    }
    pending = [];
    pendingBytes = 0;
    credit -= ab.byteLength;
    slot.worker.postMessage({ type: "chunk", data: ab } satisfies ToWorker, [ab]);
    while (credit <= 0 && !settled)
      await new Promise<void>((r) => {
        wakeSender = r;
      });
  };
  // The worker may fail while the source waits for the network: stop reading then, not at the next
  // chunk. A fresh promise per read: racing every read against one long-lived promise would keep
  // every chunk reachable from its reactions until the layer ends (the whole blob in memory).
  try {
    for (;;) {
      if (settled) break;
      const next = it.next();
      const stop = new Promise<undefined>((r) => {
        stopWaiter = r;
      });
      const r = await Promise.race([next, stop]);
      stopWaiter = undefined;
      if (r === undefined) {
        // Not awaited: the pending read ends when its source does (the caller closes it).
        next.catch(() => undefined);
        void it.return?.()?.catch(() => undefined);
        break;
      }
      if (r.done) break;
      const chunk = r.value;
      if (settled || progressError !== undefined) {
        await it.return?.();
        break;
      }
      pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      pendingBytes += chunk.byteLength;
      // Batched into few, large messages: one per network chunk raised the peak RSS by ~170 MiB on the
      // large-image bench (many small buffers allocated on one thread, freed on another).
      if (pendingBytes >= MESSAGE) await flush();
      if (meter && !begun) {
        // With a shared meter the worker counts; this call only tells the caller the unpack began.
        begun = true;
        onBytes?.(0);
      }
    }
    if (!settled) await flush();
    if (!settled) slot.worker.postMessage({ type: "end" } satisfies ToWorker);
  } catch (err) {
    sourceError = err;
    if (!settled) slot.worker.postMessage({ type: "abort" } satisfies ToWorker);
  }
  try {
    const result = await finished;
    if (sourceError !== undefined) throw sourceError;
    if (progressError !== undefined) throw progressError;
    if (!meter) onBytes?.(result.size);
    return result;
  } catch (err) {
    if (sourceError !== undefined) throw sourceError;
    if (progressError !== undefined) throw progressError;
    throw err;
  } finally {
    if (slot.worker.threadId >= 0 && slot.onFail) release(slot);
  }
}
