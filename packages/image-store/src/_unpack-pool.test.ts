import { createHash } from "node:crypto";
import { mkdtemp, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DecompressionLimitError } from "./_decompress.js";
import { ImageExpansionBudget } from "./_limits.js";
import { padding, TAR_END, type TarWriteEntry, tarHeader } from "./_tar-writer.js";
import { UnpackError } from "./_unpack.js";
import {
  configureUnpackPool,
  terminateUnpackWorkers,
  UnpackWorkerError,
  unpackLayerOffThread,
  unpackWorkers,
} from "./_unpack-pool.js";

function tar(entries: Array<TarWriteEntry & { body?: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const { body, ...e } of entries) {
    parts.push(tarHeader({ ...e, ...(body ? { size: body.length } : {}) }));
    if (body) parts.push(body, Buffer.alloc(padding(body.length)));
  }
  parts.push(TAR_END);
  return Buffer.concat(parts);
}

const diffId = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function* chunks(b: Buffer, size = 7_000): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += size) yield b.subarray(off, off + size);
}

const many = tar([
  { name: "etc/", type: "dir", mode: 0o755, mtime: 1_600_000_000 },
  ...Array.from({ length: 300 }, (_, i) => ({
    name: `etc/f${i}`,
    type: "file" as const,
    mode: 0o640,
    mtime: 1_600_000_000,
    body: Buffer.alloc(1000 + i, i % 251),
  })),
  { name: "big", type: "file", mode: 0o4755, mtime: 1_600_000_000, body: Buffer.alloc(3 << 20, 7) },
  { name: "etc/link", type: "symlink", linkname: "f1", mtime: 1_600_000_000 },
]);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-unpack-pool-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = (name: string) => ({
  dir: join(dir, name),
  maxBytes: 1 << 30,
  maxEntries: 100_000,
  privileged: false,
});

describe("small layers", () => {
  it("unpacks a layer that ends within the first bytes on the main thread: no worker is started", async () => {
    const prev = configureUnpackPool({ smallLayerBytes: 1 << 20 });
    try {
      const gz = gzipSync(many);
      expect(gz.length).toBeLessThan(1 << 20);
      const result = await unpackLayerOffThread({
        ...base("small"),
        source: chunks(gz),
        expectedDiffId: diffId(many),
      });
      expect(result).toMatchObject({ diffId: diffId(many), size: many.length, entries: 303 });
      expect(await readFile(join(dir, "small/etc/f7"))).toEqual(Buffer.alloc(1007, 7));
      expect(unpackWorkers().live).toBe(0);
      // A small layer's own errors and its source's errors are the same as on a worker.
      const evil = tar([{ name: "../escape", type: "file", body: Buffer.from("x") }]);
      await expect(
        unpackLayerOffThread({ ...base("small-evil"), source: chunks(evil), expectedDiffId: diffId(evil) }),
      ).rejects.toThrow('entry "../escape": ".." is not allowed');
      const broken = new Error("connection reset by the registry");
      async function* source(): AsyncGenerator<Buffer> {
        yield many.subarray(0, 200_000);
        throw broken;
      }
      await expect(
        unpackLayerOffThread({ ...base("small-broken"), source: source(), expectedDiffId: diffId(many) }),
      ).rejects.toBe(broken);
      expect(unpackWorkers().live).toBe(0);
    } finally {
      configureUnpackPool(prev);
    }
  });

  it("sends a layer larger than the first bytes to a worker, those bytes included", async () => {
    const prev = configureUnpackPool({ smallLayerBytes: 100_000 });
    try {
      const result = await unpackLayerOffThread({
        ...base("over"),
        source: chunks(many),
        expectedDiffId: diffId(many),
      });
      expect(result).toMatchObject({ diffId: diffId(many), size: many.length, entries: 303 });
      expect(unpackWorkers().live).toBeGreaterThan(0);
    } finally {
      configureUnpackPool(prev);
    }
  });
});

describe("layer unpack on worker threads", () => {
  let prev: ReturnType<typeof configureUnpackPool>;
  // Every layer to a worker, however small.
  beforeAll(() => {
    prev = configureUnpackPool({ smallLayerBytes: 0 });
  });
  afterAll(() => {
    configureUnpackPool(prev);
  });

  it("unpacks a gzip layer on a worker, files, modes, times and symlinks as on the main thread", async () => {
    const result = await unpackLayerOffThread({
      ...base("a"),
      source: chunks(gzipSync(many)),
      expectedDiffId: diffId(many),
    });
    expect(unpackWorkers().live).toBeGreaterThan(0);
    expect(result).toMatchObject({ diffId: diffId(many), size: many.length, entries: 303 });
    expect(await readFile(join(dir, "a/etc/f5"))).toEqual(Buffer.alloc(1005, 5));
    const big = await stat(join(dir, "a/big"));
    expect(big.size).toBe(3 << 20);
    expect(big.mode & 0o7777).toBe(0o4755);
    expect(big.mtimeMs).toBe(1_600_000_000_000);
    expect((await stat(join(dir, "a/etc/f1"))).mode & 0o777).toBe(0o640);
    expect(await readlink(join(dir, "a/etc/link"))).toBe("f1");
  });

  it("runs more layers at once than there are workers (the rest on the main thread), each verified", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        unpackLayerOffThread({ ...base(`p${i}`), source: chunks(many), expectedDiffId: diffId(many) }),
      ),
    );
    for (const r of results) expect(r.diffId).toBe(diffId(many));
    expect(unpackWorkers().live).toBeLessThanOrEqual(3);
  });

  it("answers the unpacker's own errors, with their class and message", async () => {
    const evil = tar([{ name: "../escape", type: "file", body: Buffer.from("x") }]);
    const err = await unpackLayerOffThread({
      ...base("evil"),
      source: chunks(evil),
      expectedDiffId: diffId(evil),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnpackError);
    expect((err as Error).message).toBe('entry "../escape": ".." is not allowed');
    const wrong = await unpackLayerOffThread({
      ...base("wrong"),
      source: chunks(many),
      expectedDiffId: diffId(Buffer.from("other")),
    }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(UnpackError);
    expect((wrong as Error).message).toMatch(/^uncompressed digest sha256:[0-9a-f]{64} does not match/);
  });

  it("rejects with the source's own error when the download breaks, once the worker let go of the directory", async () => {
    const broken = new Error("connection reset by the registry");
    async function* source(): AsyncGenerator<Buffer> {
      yield many.subarray(0, 200_000);
      throw broken;
    }
    await expect(
      unpackLayerOffThread({ ...base("broken"), source: source(), expectedDiffId: diffId(many) }),
    ).rejects.toBe(broken);
    // The worker stopped writing: removing the directory now leaves nothing behind.
    await rm(join(dir, "broken"), { recursive: true, force: true });
    await expect(stat(join(dir, "broken"))).rejects.toMatchObject({ code: "ENOENT" });
    // And the worker is healthy for the next layer.
    const r = await unpackLayerOffThread({
      ...base("after"),
      source: chunks(many),
      expectedDiffId: diffId(many),
    });
    expect(r.entries).toBe(303);
  });

  it("counts every layer of an image into one shared budget, on the worker too", async () => {
    const budget = new ImageExpansionBudget(5 << 20);
    const results = await Promise.allSettled(
      [0, 1].map((i) =>
        unpackLayerOffThread({
          ...base(`budget${i}`),
          source: chunks(gzipSync(many)),
          expectedDiffId: diffId(many),
          onBytes: budget.layer(),
        }),
      ),
    );
    const failed = results.filter((r) => r.status === "rejected");
    expect(failed.length).toBeGreaterThan(0);
    const reason = (failed[0] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(DecompressionLimitError);
    expect(reason.message).toMatch(/the image's layers expand past the 5242880-byte cap on a whole image/);
  });

  it("ends its workers once they are idle", async () => {
    await vi.waitFor(() => expect(unpackWorkers().live).toBe(0), { timeout: 20_000, interval: 200 });
  });

  it("keeps an idle worker while another layer unpacks, and ends every worker once the last layer ended", async () => {
    // An idle worker would live a minute while the pull goes on: only the end of the last layer ends it.
    const was = configureUnpackPool({ betweenMs: 60_000, lastMs: 0 });
    try {
      let release!: () => void;
      const go = new Promise<void>((r) => (release = r));
      async function* slow(): AsyncGenerator<Buffer> {
        yield many.subarray(0, 600_000);
        await go;
        yield many.subarray(600_000);
      }
      const long = unpackLayerOffThread({ ...base("long"), source: slow(), expectedDiffId: diffId(many) });
      const short = await unpackLayerOffThread({
        ...base("short"),
        source: chunks(many),
        expectedDiffId: diffId(many),
      });
      expect(short.entries).toBe(303);
      // The short layer's worker waits for the next layer of the pull.
      expect(unpackWorkers()).toEqual({ live: 2, idle: 1 });
      release();
      expect((await long).entries).toBe(303);
      await vi.waitFor(() => expect(unpackWorkers().live).toBe(0), { timeout: 20_000, interval: 50 });
    } finally {
      configureUnpackPool(was);
    }
  });
});

describe("layer unpack on worker threads, failures", () => {
  let prev: ReturnType<typeof configureUnpackPool>;
  beforeAll(() => {
    prev = configureUnpackPool({ smallLayerBytes: 0 });
  });
  afterAll(() => {
    configureUnpackPool(prev);
  });

  it("rejects as soon as the worker fails, while its source still waits for the network", async () => {
    // Over 256 KiB: the bytes go to the worker in messages of that size.
    const evil = tar([{ name: "/etc/passwd", type: "file", body: Buffer.alloc(300_000) }]);
    async function* stalled(): AsyncGenerator<Buffer> {
      yield evil;
      await new Promise(() => {}); // a download that never sends its next byte
    }
    const err = await unpackLayerOffThread({
      ...base("stalled"),
      source: stalled(),
      expectedDiffId: diffId(evil),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnpackError);
    expect((err as Error).message).toBe('entry "/etc/passwd": absolute paths are not allowed');
  });

  it("a worker that dies mid-layer (not the layer's fault) rejects with UnpackWorkerError, and the next layer still unpacks", async () => {
    let sent!: () => void;
    const firstSent = new Promise<void>((r) => (sent = r));
    async function* stalled(): AsyncGenerator<Buffer> {
      yield many.subarray(0, 600_000);
      sent();
      await new Promise(() => {}); // the rest never comes
    }
    const unpacking = unpackLayerOffThread({
      ...base("killed"),
      source: stalled(),
      expectedDiffId: diffId(many),
    }).catch((e: unknown) => e);
    await firstSent;
    await vi.waitFor(() => expect(unpackWorkers().live).toBeGreaterThan(0));
    await terminateUnpackWorkers();
    const err = await unpacking;
    expect(err).toBeInstanceOf(UnpackWorkerError);
    expect((err as Error).message).toMatch(/^unpack worker exited/);
    const again = await unpackLayerOffThread({
      ...base("after-kill"),
      source: chunks(many),
      expectedDiffId: diffId(many),
    });
    expect(again.diffId).toBe(diffId(many));
  });
});
