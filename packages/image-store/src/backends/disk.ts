/**
 * createDiskImageBackend: under `<root>/images`, a content-addressed blob store,
 * layer snapshots keyed by diffID, and `images.json` (written atomically).
 * Layout: blobs/sha256/<hex>, ingest/ (partial downloads), snapshots/<hex>/
 * (+ <hex>.json), tmp/ (snapshots being built), images.json.
 */
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FilesystemInfo } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import {
  atomicWriteFile,
  diskUsage,
  ensurePrivateDir,
  ignoreEnoent,
  isAtomicTempFile,
  type Logger,
  silentLogger,
} from "@servin/node-kit";
import { exportArchive, exportTar, importArchive } from "../_archive.js";
import { ContentStore } from "../_content-store.js";
import { Leases, pullFromRegistry } from "../_pull.js";
import { RegistryClient } from "../_registry.js";
import { SnapshotStore } from "../_snapshots.js";
import type { ImageBackend, ImageRecord } from "../backend.js";
import { hostPlatform, type Platform } from "../platform.js";
import { DEFAULT_LIMITS, type RegistryConfig, type StoreLimits } from "../registry-config.js";

export interface DiskImageBackendOptions {
  /** Servin's data root; images live under `<root>/images` (created 0700). */
  root: string;
  /** Mirrors, insecure hosts, auth file, concurrency, timeouts, retries. */
  registries?: RegistryConfig;
  /** Platform chosen from manifest lists (pulls and imports); default the host's. */
  platform?: Platform;
  /** Default: silent. */
  logger?: Logger;
  /** Caps on manifests, configs, expanded layers and images, tar entries. */
  limits?: StoreLimits;
}

const STATE_VERSION = 1;

/**
 * The disk image backend: pulls from OCI registries into a content store and
 * unpacks layers into snapshots. Resolves once `<root>/images` exists with
 * private modes; the service's start then reloads `images.json` through `load()`.
 *
 * @example
 * const backend = await createDiskImageBackend({ root: "/var/lib/servin", registries: { retries: 5 } });
 * const images = await createImageService({ backend });
 */
export async function createDiskImageBackend(opts: DiskImageBackendOptions): Promise<ImageBackend> {
  if (typeof opts?.root !== "string" || opts.root === "")
    throw CriError.invalidArgument("root: the disk image backend needs a root directory");
  const logger = opts.logger ?? silentLogger;
  const registries = opts.registries ?? {};
  const platform = opts.platform ?? hostPlatform();
  const dir = join(opts.root, "images");
  // Everything under images/ is root's alone: snapshots keep the layers' setuid
  // files and device nodes, blobs may hold secrets baked into images.
  await ensurePrivateDir(dir, logger);
  const content = new ContentStore(dir);
  const snapshots = new SnapshotStore(dir);
  await content.init();
  await snapshots.init();
  for (const sub of [join(dir, "blobs"), content.blobDir, content.ingestDir, snapshots.dir, snapshots.tmpDir])
    await ensurePrivateDir(sub, logger);
  const statePath = join(dir, "images.json");
  const limits: Required<StoreLimits> = { ...DEFAULT_LIMITS, ...(opts.limits ?? {}) };
  const client = new RegistryClient({ registries, logger });
  const leases = new Leases();
  const fsInfo = createFsInfo(dir);
  let generation = 0;
  const deps = {
    client,
    content,
    snapshots,
    limits,
    platform,
    leases,
    concurrency: registries.maxConcurrentDownloads ?? 3,
    retries: registries.retries ?? 3,
    logger,
  };

  const backend: ImageBackend = {
    kind: "disk",

    async load() {
      // A write a crash interrupted leaves its temp file beside images.json: nothing reads it.
      for (const name of await readdir(dir))
        if (isAtomicTempFile(name)) await rm(join(dir, name), { force: true });
      let doc: { version?: number; images?: ImageRecord[] };
      try {
        const text = await ignoreEnoent(readFile(statePath, "utf8"));
        if (text === undefined) return [];
        doc = JSON.parse(text);
      } catch (err) {
        throw CriError.internal(`reading ${statePath}: ${(err as Error).message}`, err);
      }
      if (doc.version !== STATE_VERSION)
        throw CriError.internal(`${statePath}: unknown state version ${doc.version}`);
      const images = doc.images ?? [];
      // An image whose snapshots vanished (crash mid-GC, manual deletion) cannot run: drop it.
      const ok: ImageRecord[] = [];
      for (const img of images) {
        const present = await Promise.all(img.layers.map((l) => snapshots.has(l.diffId)));
        if (present.every(Boolean)) ok.push(img);
        else logger.warn(`image ${img.id} lost layer snapshots; forgetting it`);
      }
      // No GC here: blobs and snapshots of a pull that was killed stay, so its retry reuses them;
      // the next image removal collects whatever no image ended up using.
      return ok;
    },

    async persist(records) {
      generation++;
      await atomicWriteFile(statePath, JSON.stringify({ version: STATE_VERSION, images: records }, null, 1));
    },

    async pull(ref, ctx) {
      generation++;
      return pullFromRegistry(deps, ref, ctx);
    },

    layerPaths(rec) {
      return rec.layers.map((l) => snapshots.path(l.diffId));
    },

    async collectGarbage(live) {
      generation++;
      const blobs = new Set<string>();
      const diffs = new Set<string>();
      for (const img of live) {
        blobs.add(img.id);
        blobs.add(img.manifestDigest);
        if (img.indexDigest) blobs.add(img.indexDigest);
        for (const l of img.layers) {
          blobs.add(l.digest);
          diffs.add(l.diffId);
        }
      }
      for (const d of await content.list()) {
        if (!blobs.has(d) && !leases.has(d) && !content.isInflight(d)) await content.delete(d);
      }
      for (const d of await snapshots.list()) {
        if (!diffs.has(d) && !leases.has(d) && !snapshots.isInflight(d)) await snapshots.delete(d);
      }
    },

    async fsInfo() {
      return fsInfo.get(generation);
    },

    async importArchive(path, iopts, lease) {
      generation++;
      return importArchive(
        { content, snapshots, limits, lease, platform: iopts.platform ?? platform },
        path,
        iopts,
      );
    },

    newLease() {
      return leases.scope();
    },

    async exportArchive(recs, dest, eopts) {
      return exportArchive(content, recs, dest, eopts);
    },

    exportTar(recs) {
      return exportTar(content, recs);
    },

    async close() {},
  };
  return backend;
}

/**
 * ImageFsInfo the way containerd reports its snapshotter root: the mountpoint
 * field names the directory kubelet/cAdvisor resolve to a device. Bytes and
 * inodes are really used under it (hard links once); results are cached until
 * the store changes (`generation`), at most a minute.
 */
function createFsInfo(dir: string): { get(generation: number): Promise<FilesystemInfo> } {
  let cached: { generation: number; at: number; usedBytes: number; inodesUsed: number } | undefined;
  return {
    async get(generation) {
      if (!cached || cached.generation !== generation || Date.now() - cached.at > 60_000) {
        cached = { generation, at: Date.now(), ...(await diskUsage(dir)) };
      }
      return {
        imageFilesystems: [
          {
            timestamp: nowNanos(),
            fsId: { mountpoint: dir },
            usedBytes: { value: cached.usedBytes },
            inodesUsed: { value: cached.inodesUsed },
          },
        ],
        containerFilesystems: [],
      };
    },
  };
}
