/**
 * The worker-thread side of an off-thread layer unpack (see _unpack-pool.ts): one job at a time,
 * fed the layer's stored bytes through messages, running the same unpacker (same checks) with
 * synchronous file writes.
 */
import { parentPort } from "node:worker_threads";
import { meterCallback } from "./_limits.js";
import { unpackLayer } from "./_unpack.js";
import type { FromWorker, ToWorker } from "./_unpack-pool.js";

const port = parentPort;
if (!port) throw new Error("_unpack-worker must run on a worker thread");

/** One layer's hand-off: a job of its own, so a generator left over from a failed job never sees the next job's bytes. */
class Job {
  queue: Buffer[] = [];
  ended = false;
  aborted = false;
  size = 0;
  private wake: (() => void) | undefined;

  async *source(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.aborted) throw new Error("the layer's source failed");
      const chunk = this.queue.shift();
      if (chunk) {
        // Credit back to the main thread as soon as a chunk is taken: it sends at most a few MiB ahead.
        port?.postMessage({ type: "ack", bytes: chunk.length, size: this.size } satisfies FromWorker);
        yield chunk;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
  }

  poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

let job: Job | undefined;

port.on("message", (msg: ToWorker) => {
  switch (msg.type) {
    case "start": {
      const j = new Job();
      job = j;
      const meter = msg.meter ? meterCallback(msg.meter) : undefined;
      unpackLayer({
        ...msg.opts,
        source: j.source(),
        syncFiles: true,
        onBytes: (n) => {
          j.size = n;
          meter?.(n);
        },
      }).then(
        (result) => port.postMessage({ type: "done", result } satisfies FromWorker),
        (err: unknown) => {
          const e = err as NodeJS.ErrnoException;
          port.postMessage({
            type: "error",
            name: e?.constructor?.name ?? "Error",
            message: e instanceof Error ? e.message : String(err),
            ...(e?.code ? { code: e.code } : {}),
          } satisfies FromWorker);
        },
      );
      return;
    }
    case "chunk":
      job?.queue.push(Buffer.from(msg.data));
      job?.poke();
      return;
    case "end":
      if (job) job.ended = true;
      job?.poke();
      return;
    case "abort":
      if (job) job.aborted = true;
      job?.poke();
      return;
  }
});
