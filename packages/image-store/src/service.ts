/** createImageService: wires the image RPC handlers over one context, with one wrapper for cross-cutting concerns. */
import type { CallObserver, Image, ImageId, ImageResolver, ImageService } from "@servin/cri-types";
import { CriError, InFlight, instrument } from "@servin/cri-types";
import { type Logger, silentLogger } from "@servin/node-kit";
import { createMutationQueue, type ImageContext } from "./_context.js";
import type { ExportOptions, ImageBackend, ImportOptions } from "./backend.js";
import { exportImage, exportImageStream } from "./image/export.js";
import { imageFsInfo } from "./image/fs-info.js";
import { importImage, importImageStream } from "./image/import.js";
import { listImages } from "./image/list.js";
import { pullImage } from "./image/pull.js";
import { removeImage } from "./image/remove.js";
import { resolveImage } from "./image/resolve.js";
import { imageStatus } from "./image/status.js";

export interface ImageServiceOptions {
  /** Where images come from and live: `createDiskImageBackend(…)`, `createMemoryImageBackend(…)` or your own. */
  backend: ImageBackend;
  /** Asked before an image is deleted; true makes RemoveImage fail with FailedPrecondition. */
  isImageInUse?: (id: ImageId) => boolean;
  /** Default: silent. */
  logger?: Logger;
  /** Called once per CRI RPC (metrics); the call's `transport` option says which edge it came by. */
  onCall?: CallObserver;
}

/** The CRI ImageService plus what runtimes, the CLI and servers need around it. */
export interface ServinImageService extends ImageService, ImageResolver {
  /**
   * Stops accepting calls (they answer Unavailable), cancels running pulls
   * (their downloaded blobs stay for a retry), waits for calls in progress,
   * then closes the backend. Idempotent.
   */
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

type Handler<Args extends unknown[], Res> = (ctx: ImageContext, ...args: Args) => Promise<Res>;

/**
 * Creates the image service over an injected backend (as runtime-core's
 * `createRuntimeService({ backend })`). Resolves once the backend's records
 * are loaded; the disk backend has cleaned what an interrupted run left
 * behind by then.
 *
 * @example
 * import { createImageService, createMemoryImageBackend } from "@servin/image-store";
 * const images = await createImageService({ backend: createMemoryImageBackend() });
 * const { imageRef } = await images.pullImage({ image: { image: "alpine" } });
 * const { images: list } = await images.listImages({});
 * console.log(imageRef, list[0]?.repoTags); // sha256:… [ 'docker.io/library/alpine:latest' ]
 * await images.close();
 */
export async function createImageService(options: ImageServiceOptions): Promise<ServinImageService> {
  const backend = options?.backend as ImageBackend | undefined;
  if (typeof backend?.pull !== "function")
    throw CriError.invalidArgument(
      "backend: expected an ImageBackend (createDiskImageBackend or createMemoryImageBackend)",
    );
  const logger = options.logger ?? silentLogger;
  const lifetime = new AbortController();
  const mutations = createMutationQueue();
  const ctx: ImageContext = {
    backend,
    logger,
    records: new Map(),
    pulls: new Map(),
    isImageInUse: options.isImageInUse ?? (() => false),
    lifetime: lifetime.signal,
    locked: mutations.run,
  };
  for (const rec of await backend.load()) ctx.records.set(rec.id, rec);

  let closed = false;
  // Calls in progress: close() lets them settle before closing the backend under them.
  const active = new InFlight();
  const bind =
    <Args extends unknown[], Res>(handler: Handler<Args, Res>) =>
    (...args: Args): Promise<Res> =>
      handler(ctx, ...args);
  // Closed check, error mapping, a debug line per call, each call counted in `active` until it settles:
  // instrument() (cri-types), as runtime-core does.
  const lifecycle = { isClosed: () => closed, logger, inFlight: active };
  // The CRI RPCs are also observed (metrics, labelled by the transport in their call options).
  const rpcs: ImageService = instrument(
    "image",
    {
      listImages: bind(listImages),
      imageStatus: bind(imageStatus),
      pullImage: bind(pullImage),
      removeImage: bind(removeImage),
      imageFsInfo: bind(imageFsInfo),
    },
    { ...lifecycle, ...(options.onCall ? { observe: options.onCall } : {}) },
  );
  const extensions = instrument(
    "image",
    {
      resolveImage: bind(resolveImage),
      importImage: bind(importImage),
      importImageStream: bind(importImageStream),
      exportImage: bind(exportImage),
      exportImageStream: bind(exportImageStream),
    },
    lifecycle,
  );

  return {
    ...rpcs,
    ...extensions,
    async close() {
      if (closed) return;
      closed = true;
      lifetime.abort(new CriError("Unavailable", "the image service is closing"));
      await active.drain();
      await mutations.idle();
      await backend.close();
    },
  };
}
