/** createImageService: the CRI ImageService + ImageResolver over a memory or disk backend. */
import { arch } from "node:os";
import type {
  CallOptions,
  Empty,
  Image,
  ImageFsInfoResponse,
  ImageId,
  ImageResolver,
  ImageService,
  ImageStatusRequest,
  ImageStatusResponse,
  ListImagesRequest,
  ListImagesResponse,
  OciImageConfig,
  PullImageRequest,
  PullImageResponse,
  PullOptions,
  PullProgress,
  RemoveImageRequest,
  RuntimeImage,
} from "@servin/cri-types";
import { CriError, nowNanos, toCriError } from "@servin/cri-types";
import type { ExportOptions, ImportOptions, PulledImage, StoreBackend } from "./_backend.js";
import { createDiskBackend } from "./_disk.js";
import { createMemoryBackend } from "./_memory.js";
import { abortError } from "./_pull.js";
import { findImage, type ImageRecord, toCriImage, toRuntimeImage } from "./_records.js";
import { SharedOperation } from "./_shared.js";
import { type ImageReference, parseReference, tryParseReference } from "./reference.js";
import type { RegistryConfig, StoreLimits } from "./registry-config.js";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageLogger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface ImageServiceOptions {
  backend: "memory" | "disk";
  /** Disk backend: servin's data root; images live under `<root>/images`. */
  root?: string;
  registries?: RegistryConfig;
  /** Asked before an image is deleted; true makes RemoveImage fail with FailedPrecondition. */
  isImageInUse?: (id: ImageId) => boolean;
  /** Platform chosen from manifest lists; default the host's. */
  platform?: Platform;
  logger?: ImageLogger;
  limits?: StoreLimits;
  /** Memory backend: the synthetic config of a reference (e.g. a `user`); default a shell image. */
  syntheticConfig?: (ref: ImageReference) => OciImageConfig | undefined;
}

export type { ExportOptions, ImportOptions };

/** The CRI ImageService plus what runtimes, the CLI and servers need around it. */
export interface ServinImageService extends ImageService, ImageResolver {
  readonly backend: "memory" | "disk";
  close(): Promise<void>;
  /** Imports every image of an OCI layout (dir or tar) or `docker save` tar. Disk backend only. */
  importImage(path: string, opts?: ImportOptions): Promise<Image[]>;
  /** Writes an image as an OCI layout (that `docker load` also reads). Disk backend only. */
  exportImage(ref: string, dest: string, opts?: ExportOptions): Promise<void>;
  /**
   * Imports every image of an OCI layout or `docker save` tar read from a stream (e.g. an HTTP
   * request body), storing blobs as they arrive. Disk backend only.
   */
  importImageStream(archive: AsyncIterable<Uint8Array>, opts?: ImportOptions): Promise<Image[]>;
  /**
   * The image as an OCI layout tar stream (that `docker load` also reads). Resolves once the image
   * is found (NotFound before any byte); its content is kept from GC until the stream ends. Disk backend only.
   */
  exportImageStream(ref: string): Promise<AsyncIterable<Buffer>>;
}

const noopLogger: ImageLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The host platform in OCI terms (GOOS/GOARCH names). */
export function hostPlatform(): Platform {
  const map: Record<string, string> = {
    x64: "amd64",
    ia32: "386",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
  };
  const architecture = map[arch()] ?? arch();
  const p: Platform = { os: "linux", architecture };
  if (architecture === "arm64") p.variant = "v8";
  if (architecture === "arm") {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    p.variant = `v${v ?? "7"}`;
  }
  return p;
}

function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new CriError("Aborted", `${what} was cancelled`);
}

/**
 * Creates the image service. The disk backend reloads its images from
 * `<root>/images` and cleans what an interrupted run left behind before it
 * resolves.
 *
 * @example
 * const images = await createImageService({ backend: "memory" });
 * const { imageRef } = await images.pullImage({ image: { image: "alpine" } });
 * const { images: list } = await images.listImages({});
 * console.log(imageRef, list[0]?.repoTags); // sha256:… [ 'docker.io/library/alpine:latest' ]
 */
export async function createImageService(opts: ImageServiceOptions): Promise<ServinImageService> {
  const logger = opts.logger ?? noopLogger;
  const platform = opts.platform ?? hostPlatform();
  let backend: StoreBackend;
  if (opts.backend === "memory") {
    backend = createMemoryBackend({
      platform,
      ...(opts.syntheticConfig ? { syntheticConfig: opts.syntheticConfig } : {}),
    });
  } else if (opts.backend === "disk") {
    if (!opts.root) throw CriError.invalidArgument("root: the disk image backend needs a root directory");
    backend = await createDiskBackend({
      root: opts.root,
      registries: opts.registries ?? {},
      platform,
      logger,
      limits: opts.limits ?? {},
    });
  } else {
    throw CriError.invalidArgument(
      `backend: expected "memory" or "disk", got ${JSON.stringify(opts.backend)}`,
    );
  }

  const records = new Map<ImageId, ImageRecord>();
  for (const rec of await backend.load()) records.set(rec.id, rec);
  const isInUse = opts.isImageInUse ?? (() => false);
  /** A deduplicated pull: its waiters' progress callbacks and the latest event per blob (replayed to joiners). */
  interface SharedPull {
    op: SharedOperation<ImageId>;
    listeners: Set<(e: PullProgress) => void>;
    latest: Map<string, PullProgress>;
  }
  const pulls = new Map<string, SharedPull>();

  // Mutations of the record set are serialised; pulls run outside the lock and
  // only take it to attach names and persist.
  let chain: Promise<unknown> = Promise.resolve();
  function locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  }
  const persist = () => backend.persist([...records.values()]);

  /**
   * Adds a pulled/imported image under `names`, moving tags off other images
   * (containerd semantics). An image that loses its last name is dropped and
   * its content collected, unless a container uses it: then it stays, untagged,
   * so its snapshots keep serving as the container's overlay lowers, until a
   * RemoveImage by ID (kubelet's image GC) deletes it.
   */
  async function attach(pulled: PulledImage, tags: string[], digests: string[]): Promise<ImageRecord> {
    const id = pulled.record.id;
    const existing = records.get(id);
    const rec: ImageRecord = existing
      ? { ...existing, ...pulled.record, repoTags: existing.repoTags, repoDigests: existing.repoDigests }
      : { ...pulled.record, repoTags: [], repoDigests: [], storedAt: String(nowNanos()) };
    let orphaned = false;
    for (const tag of tags) {
      for (const other of records.values()) {
        if (other.id !== id && other.repoTags.includes(tag)) {
          other.repoTags = other.repoTags.filter((t) => t !== tag);
          if (other.repoTags.length === 0 && other.repoDigests.length === 0) {
            if (isInUse(other.id)) {
              logger.info(`image ${other.id} lost its last name to ${id}; kept untagged while in use`);
            } else {
              records.delete(other.id);
              orphaned = true;
            }
          }
        }
      }
      if (!rec.repoTags.includes(tag)) rec.repoTags.push(tag);
    }
    for (const d of digests) if (!rec.repoDigests.includes(d)) rec.repoDigests.push(d);
    records.set(id, rec);
    await persist();
    if (orphaned) await backend.collectGarbage([...records.values()]);
    return rec;
  }

  async function pullOnce(
    ref: ImageReference,
    req: PullImageRequest,
    signal: AbortSignal,
    onProgress: (e: PullProgress) => void,
  ): Promise<ImageId> {
    // The lease keeps GC off what this pull stores until the image is recorded
    // (a RemoveImage of another image may collect between download and attach).
    const lease = backend.newLease();
    try {
      let pulled: PulledImage;
      try {
        pulled = await backend.pull(ref, {
          ...(req.auth ? { auth: req.auth } : {}),
          signal,
          onProgress,
          lease,
        });
      } catch (err) {
        // Content an image was rejected for is garbage; blobs of a pull that merely
        // failed on the network stay, so a retry does not download them again.
        if (toCriError(err).code === "InvalidArgument") {
          lease.release();
          await locked(() => backend.collectGarbage([...records.values()])).catch(() => undefined);
        }
        throw err;
      }
      // containerd names a pull by tag `name:tag` and always `name@digest`; a
      // reference with both tag and digest is stored by digest only.
      const tags = ref.digest || ref.tag === undefined ? [] : [`${ref.name}:${ref.tag}`];
      const rec = await locked(() => attach(pulled, tags, [`${ref.name}@${pulled.topDigest}`]));
      logger.info(`pulled ${ref.string} as ${rec.id}`);
      return rec.id;
    } finally {
      lease.release();
    }
  }

  /** The shared pull for `key`, started if none runs (or the running one was abandoned by all its waiters). */
  function sharedPull(key: string, ref: ImageReference, req: PullImageRequest): SharedPull {
    const running = pulls.get(key);
    if (running && !running.op.abandoned) return running;
    const listeners = new Set<(e: PullProgress) => void>();
    const latest = new Map<string, PullProgress>();
    const fanOut = (e: PullProgress) => {
      latest.set(`${e.kind}:${e.digest}`, e);
      for (const l of listeners) {
        try {
          l(e);
        } catch {
          // A progress consumer never breaks a pull (nor the other waiters' progress).
        }
      }
    };
    const op: SharedOperation<ImageId> = new SharedOperation(
      (signal) => pullOnce(ref, req, signal, fanOut),
      () => {
        // Every waiter gave up: the pull is being cancelled, so a new caller starts afresh.
        if (pulls.get(key)?.op === op) pulls.delete(key);
      },
    );
    const shared: SharedPull = { op, listeners, latest };
    pulls.set(key, shared);
    op.promise
      .finally(() => {
        if (pulls.get(key) === shared) pulls.delete(key);
      })
      .catch(() => undefined);
    return shared;
  }

  async function importFrom(
    source: string | { stream: AsyncIterable<Uint8Array>; name: string },
    iopts: ImportOptions,
  ): Promise<Image[]> {
    // Leased until recorded, like a pull: a concurrent GC never takes the imported content.
    const lease = backend.newLease();
    try {
      const found = await backend.importArchive(source, { platform, ...iopts }, lease);
      const out: Image[] = [];
      for (const { pulled, names } of found) {
        const tags: string[] = [];
        const digests: string[] = [];
        for (const n of names) {
          const r = parseReference(n);
          if (r.digest) digests.push(`${r.name}@${r.digest}`);
          else tags.push(`${r.name}:${r.tag}`);
        }
        out.push(toCriImage(await locked(() => attach(pulled, tags, digests))));
      }
      return out;
    } finally {
      lease.release();
    }
  }

  const service: ServinImageService = {
    backend: opts.backend,

    async listImages(req: ListImagesRequest, copts?: CallOptions): Promise<ListImagesResponse> {
      checkSignal(copts?.signal, "listImages");
      const wanted = req.filter?.image?.image;
      if (wanted) {
        const hit = findImage(records.values(), wanted);
        return { images: hit ? [toCriImage(hit)] : [] };
      }
      const images = [...records.values()]
        .sort((a, b) => (BigInt(a.storedAt) < BigInt(b.storedAt) ? -1 : 1))
        .map(toCriImage);
      return { images };
    },

    async imageStatus(req: ImageStatusRequest, copts?: CallOptions): Promise<ImageStatusResponse> {
      checkSignal(copts?.signal, "imageStatus");
      const ref = req.image?.image;
      if (!ref)
        throw CriError.invalidArgument("image.image: expected a non-empty string", [
          { path: "image.image", message: "expected a non-empty string" },
        ]);
      const rec = findImage(records.values(), ref);
      if (!rec) return {};
      const res: ImageStatusResponse = { image: toCriImage(rec) };
      if (req.verbose) {
        // containerd answers verbose ImageStatus with {"info": {chainID, imageSpec}}.
        res.info = {
          info: JSON.stringify({
            imageSpec: rec.config,
            manifestDigest: rec.manifestDigest,
            ...(rec.indexDigest ? { indexDigest: rec.indexDigest } : {}),
            layers: rec.layers,
            snapshots: backend.layerPaths(rec),
          }),
        };
      }
      return res;
    },

    async pullImage(req: PullImageRequest, popts: PullOptions = {}): Promise<PullImageResponse> {
      checkSignal(popts.signal, "pullImage");
      const raw = req.image?.image;
      if (!raw)
        throw CriError.invalidArgument("image.image: expected a non-empty string", [
          { path: "image.image", message: "expected a non-empty string" },
        ]);
      const ref = parseReference(raw);
      // Identical concurrent pulls share one pull (as CRI-O does); the content
      // store further shares blobs between different images. Each caller waits
      // with its own signal and gets the progress (joiners first get the latest
      // event of every blob); the pull is cancelled only when all callers are.
      const key = `${ref.string}\u0000${JSON.stringify(req.auth ?? {})}`;
      const shared = sharedPull(key, ref, req);
      const onProgress = popts.onProgress;
      if (onProgress) {
        for (const e of shared.latest.values()) {
          try {
            onProgress(e);
          } catch {
            // A progress consumer never breaks a pull.
          }
        }
        shared.listeners.add(onProgress);
      }
      try {
        // containerd returns the image ID as image_ref.
        return { imageRef: await shared.op.join(popts.signal, (signal) => abortError(signal, ref)) };
      } catch (err) {
        throw toCriError(err);
      } finally {
        if (onProgress) shared.listeners.delete(onProgress);
      }
    },

    async removeImage(req: RemoveImageRequest, copts?: CallOptions): Promise<Empty> {
      checkSignal(copts?.signal, "removeImage");
      const raw = req.image?.image;
      if (!raw)
        throw CriError.invalidArgument("image.image: expected a non-empty string", [
          { path: "image.image", message: "expected a non-empty string" },
        ]);
      return locked(async () => {
        const rec = findImage(records.values(), raw);
        if (!rec) return {};
        const parsed = tryParseReference(raw);
        const byTag =
          parsed && !parsed.digest && rec.repoTags.includes(parsed.string) ? parsed.string : undefined;
        const byDigest =
          parsed?.digest && rec.repoDigests.includes(`${parsed.name}@${parsed.digest}`)
            ? `${parsed.name}@${parsed.digest}`
            : undefined;
        // A tag or digest reference removes that one name while tags remain
        // (docker's untag); the last tag, or the ID, deletes the image.
        if (byTag && rec.repoTags.length > 1) {
          rec.repoTags = rec.repoTags.filter((t) => t !== byTag);
          await persist();
          return {};
        }
        if (byDigest && rec.repoTags.length > 0) {
          rec.repoDigests = rec.repoDigests.filter((d) => d !== byDigest);
          await persist();
          return {};
        }
        if (isInUse(rec.id)) {
          throw CriError.failedPrecondition(
            `image "${raw}" (${rec.id}) is in use by a container; remove the container first`,
          );
        }
        records.delete(rec.id);
        await persist();
        await backend.collectGarbage([...records.values()]);
        logger.info(`removed image ${rec.id}`);
        return {};
      });
    },

    async imageFsInfo(_req: Empty, copts?: CallOptions): Promise<ImageFsInfoResponse> {
      checkSignal(copts?.signal, "imageFsInfo");
      return backend.fsInfo();
    },

    async resolveImage(ref: string): Promise<RuntimeImage> {
      const rec = findImage(records.values(), ref);
      if (!rec) throw CriError.notFound(`image "${ref}" not found`);
      return toRuntimeImage(rec, backend.layerPaths(rec));
    },

    async importImage(path: string, iopts: ImportOptions = {}): Promise<Image[]> {
      return importFrom(path, iopts);
    },

    async importImageStream(archive: AsyncIterable<Uint8Array>, iopts: ImportOptions = {}): Promise<Image[]> {
      return importFrom({ stream: archive, name: "archive" }, iopts);
    },

    async exportImageStream(ref: string): Promise<AsyncIterable<Buffer>> {
      const rec = findImage(records.values(), ref);
      if (!rec) throw CriError.notFound(`image "${ref}" not found`);
      const parsed = tryParseReference(ref);
      const name =
        parsed && !parsed.digest && rec.repoTags.includes(parsed.string) ? parsed.string : rec.repoTags[0];
      // Leased while streaming: a RemoveImage + GC meanwhile must not delete blobs still being sent.
      const lease = backend.newLease();
      for (const d of [rec.id, rec.manifestDigest, ...rec.layers.map((l) => l.digest)]) lease.add(d);
      const tar = backend.exportTar([{ rec, ...(name ? { name } : {}) }]);
      return (async function* () {
        try {
          yield* tar;
        } finally {
          lease.release();
        }
      })();
    },

    async exportImage(ref: string, dest: string, eopts: ExportOptions = {}): Promise<void> {
      const rec = findImage(records.values(), ref);
      if (!rec) throw CriError.notFound(`image "${ref}" not found`);
      const parsed = tryParseReference(ref);
      const name =
        parsed && !parsed.digest && rec.repoTags.includes(parsed.string) ? parsed.string : rec.repoTags[0];
      await backend.exportArchive([{ rec, ...(name ? { name } : {}) }], dest, eopts);
    },

    async close() {
      await chain;
      await backend.close();
    },
  };
  return service;
}
