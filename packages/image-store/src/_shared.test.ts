/** Shared operations: per-waiter cancellation, cancel on the last waiter only; shared blob downloads; backoff listeners. */
import { getEventListeners } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import { afterEach, describe, expect, it } from "vitest";
import { ContentStore, IngestAbortedError } from "./_content-store.js";
import { sha256Digest } from "./_digest.js";
import { RegistryClient } from "./_registry.js";
import { SharedOperation } from "./_shared.js";
import { parseReference } from "./reference.js";

/** A promise with its resolve/reject exposed. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const quietLogger = { debug() {}, warn() {} };

describe("SharedOperation", () => {
  it("rejects only the waiter whose signal aborts, with the signal's CriError reason", async () => {
    const gate = deferred<string>();
    let inner: AbortSignal | undefined;
    const op = new SharedOperation<string>((signal) => {
      inner = signal;
      return gate.promise;
    });
    const a = new AbortController();
    const b = new AbortController();
    const pa = op.join(a.signal, (s) => s.reason);
    const pb = op.join(b.signal, (s) => s.reason);
    const pc = op.join(undefined, () => new Error("unused"));
    a.abort(new CriError("DeadlineExceeded", "call deadline exceeded"));
    await expect(pa).rejects.toMatchObject({ code: "DeadlineExceeded" });
    b.abort(new CriError("Aborted", "client went away"));
    await expect(pb).rejects.toMatchObject({ code: "Aborted" });
    // The waiter without a signal still waits, so the operation runs on.
    expect(inner?.aborted).toBe(false);
    expect(op.abandoned).toBe(false);
    gate.resolve("done");
    await expect(pc).resolves.toBe("done");
  });

  it("cancels the operation when the last waiter leaves, and tells its owner", async () => {
    let inner: AbortSignal | undefined;
    let abandoned = 0;
    const op = new SharedOperation<void>(
      (signal) => {
        inner = signal;
        return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      },
      () => abandoned++,
    );
    const a = new AbortController();
    const b = new AbortController();
    const pa = op.join(a.signal, () => new Error("a left"));
    const pb = op.join(b.signal, () => new Error("b left"));
    await Promise.resolve();
    a.abort();
    await expect(pa).rejects.toThrow("a left");
    expect(inner?.aborted).toBe(false);
    b.abort();
    await expect(pb).rejects.toThrow("b left");
    expect(inner?.aborted).toBe(true);
    expect(op.abandoned).toBe(true);
    expect(abandoned).toBe(1);
    await expect(op.promise).rejects.toBeDefined();
  });
});

describe("ContentStore shared downloads", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("keeps a shared download going for the others when one caller cancels; all get progress", async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-cs-"));
    const store = new ContentStore(dir);
    await store.init();
    const data = Buffer.alloc(64 * 1024, 7);
    const digest = sha256Digest(data);
    const gate = deferred();
    let opens = 0;
    let sourceSignal: AbortSignal | undefined;
    const source = async (signal: AbortSignal) => {
      opens++;
      sourceSignal = signal;
      return (async function* () {
        yield data.subarray(0, 1000);
        await gate.promise;
        yield data.subarray(1000);
      })();
    };
    const first = new AbortController();
    const seenA: number[] = [];
    const seenB: number[] = [];
    const a = store.ingest(digest, data.length, source, (c) => seenA.push(c), first.signal);
    const b = store.ingest(digest, data.length, source, (c) => seenB.push(c));
    // Wait until the first bytes went through, then the first caller hangs up.
    while (seenB.length === 0) await new Promise((r) => setImmediate(r));
    first.abort();
    await expect(a).rejects.toBeInstanceOf(IngestAbortedError);
    expect(sourceSignal?.aborted).toBe(false);
    gate.resolve();
    await b;
    expect(opens).toBe(1);
    expect(await store.has(digest, data.length)).toBe(true);
    expect(seenB.at(-1)).toBe(data.length);
    expect(seenA).toEqual([1000]);
  });

  it("cancels the download when every caller cancelled, and a new caller starts afresh", async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-cs-"));
    const store = new ContentStore(dir);
    await store.init();
    const data = Buffer.alloc(10_000, 3);
    const digest = sha256Digest(data);
    const signals: AbortSignal[] = [];
    const stuck = async (signal: AbortSignal) => {
      signals.push(signal);
      return (async function* () {
        yield data.subarray(0, 10);
        await new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
      })();
    };
    const c1 = new AbortController();
    const c2 = new AbortController();
    const p1 = store.ingest(digest, data.length, stuck, undefined, c1.signal);
    const p2 = store.ingest(digest, data.length, stuck, undefined, c2.signal);
    while (signals.length === 0) await new Promise((r) => setImmediate(r));
    c1.abort();
    c2.abort();
    await expect(p1).rejects.toBeInstanceOf(IngestAbortedError);
    await expect(p2).rejects.toBeInstanceOf(IngestAbortedError);
    expect(signals[0]!.aborted).toBe(true);
    await store.ingest(digest, data.length, async () => [data]);
    expect(await store.has(digest, data.length)).toBe(true);
    // Nothing half-written is left in ingest/ once the cancelled download settled.
    while (store.isInflight(digest)) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 50 && (await readdir(store.ingestDir)).length > 0; i++)
      await new Promise((r) => setImmediate(r));
    expect(await readdir(store.ingestDir)).toEqual([]);
  });
});

describe("registry retries", () => {
  it("removes its abort listener when a backoff timer fires", async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls++;
      res.writeHead(calls <= 2 ? 503 : 200, { "content-type": "text/plain" }).end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const client = new RegistryClient({ registries: { retries: 3 }, logger: quietLogger });
      const ref = parseReference(`${host}/x/y:v1`);
      const [ep] = client.endpoints(ref);
      const ac = new AbortController();
      const before = getEventListeners(ac.signal, "abort").length;
      const res = await client.get(ep!, "x/y/manifests/v1", {
        creds: undefined,
        scope: "repository:x/y:pull",
        signal: ac.signal,
      });
      res.body.resume();
      await new Promise((r) => res.body.once("end", r));
      expect(res.status).toBe(200);
      expect(calls).toBe(3);
      // Two backoffs ran; neither left a listener behind (the HTTP layer removes its own).
      expect(getEventListeners(ac.signal, "abort").length).toBe(before);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
