/** ImageBackend: the seam between the CRI image service and where images come from and live (memory, disk, or yours). */
import type { AuthConfig, FilesystemInfo, ImageId, PullProgress } from "@servin/cri-types";
import type { Platform } from "./platform.js";
import type { ImageReference } from "./reference.js";

/** One layer of an image: the compressed blob and the uncompressed diff it unpacks to. */
export interface LayerRecord {
  digest: string;
  size: number;
  mediaType: string;
  diffId: string;
}

/** The raw OCI image config (the JSON document whose digest is the image ID). */
export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    StopSignal?: string;
    Volumes?: Record<string, object> | null;
    ExposedPorts?: Record<string, object> | null;
    Labels?: Record<string, string> | null;
  };
  rootfs?: { type?: string; diff_ids?: string[] };
  [key: string]: unknown;
}

export interface ImageRecord {
  id: ImageId;
  repoTags: string[];
  repoDigests: string[];
  /** Sum of the compressed layer sizes. */
  size: number;
  /** Digest of the platform manifest. */
  manifestDigest: string;
  manifestMediaType: string;
  /** Digest of the index the manifest was chosen from, when pulled through one. */
  indexDigest?: string;
  configMediaType: string;
  layers: LayerRecord[];
  config: ImageConfigFile;
  /** Creation time in the store, ns since the epoch, as a decimal string (JSON has no bigint). */
  storedAt: string;
  pinned?: boolean;
}

/** Leases taken for one operation; `release` drops them all (idempotent). */
export interface LeaseScope {
  add(key: string): void;
  release(): void;
}

export interface PullContext {
  auth?: AuthConfig;
  /** Holds what the pull stores until the caller releases it (after recording the image). */
  lease?: LeaseScope;
  signal?: AbortSignal;
  onProgress?: (event: PullProgress) => void;
}

/** What a pull produced, before the service attaches names to it. */
export interface PulledImage {
  record: Omit<ImageRecord, "repoTags" | "repoDigests" | "storedAt" | "pinned">;
  /** The digest the reference resolved to (index or manifest): the one repo digests name. */
  topDigest: string;
}

/** An image found in an archive, with the names the archive gives it. */
export interface ImportedImage {
  pulled: PulledImage;
  names: string[];
}

export interface ImportOptions {
  /** Repository name for images the archive only tags (`org.opencontainers.image.ref.name` = a bare tag). */
  name?: string;
  platform?: Platform;
}

export interface ExportOptions {
  /** `tar` (default) writes one tar file; `dir` writes an OCI layout directory. */
  format?: "tar" | "dir";
}

/**
 * Where images come from and where they live, injected into `createImageService`
 * as runtime-core's `RuntimeBackend` is into `createRuntimeService`. The service
 * owns the image records (names, tags, in-use checks, serialisation); a backend
 * stores and fetches content and persists the records it is handed.
 * `createMemoryImageBackend` and `createDiskImageBackend` are the two shipped.
 *
 * @example
 * const backend = createMemoryImageBackend();
 * const images = await createImageService({ backend });
 */
export interface ImageBackend {
  /** What the backend is (e.g. "memory", "disk"), for logs and status pages. */
  readonly kind: string;
  /** The records persisted by the last run (none for a fresh or volatile store). */
  load(): Promise<ImageRecord[]>;
  /** Stores the complete record set (called after every change, serialised by the service). */
  persist(records: ImageRecord[]): Promise<void>;
  /** Fetches an image; honours `ctx.signal` and rejects with `Aborted` (or the signal's CriError reason). */
  pull(ref: ImageReference, ctx: PullContext): Promise<PulledImage>;
  /** A lease scope: blobs and snapshots added to it survive GC until it is released. */
  newLease(): LeaseScope;
  /** The layer snapshot directories of an image, lowest first (none for a backend without files). */
  layerPaths(rec: ImageRecord): string[];
  /** Deletes blobs and snapshots no live record (and no pull in progress) uses. */
  collectGarbage(live: ImageRecord[]): Promise<void>;
  /** ImageFsInfo: what the store takes on its filesystem. */
  fsInfo(): Promise<FilesystemInfo>;
  /**
   * `source` is a path on this host, or a tar stream (`name` says what errors call it).
   * This and the two exports throw Unimplemented on a backend without a content store.
   */
  importArchive(
    source: string | { stream: AsyncIterable<Uint8Array>; name: string },
    opts: ImportOptions,
    lease: LeaseScope,
  ): Promise<ImportedImage[]>;
  /** The image(s) as one tar stream (what `exportArchive` writes as a tar file). */
  exportTar(recs: Array<{ rec: ImageRecord; name?: string }>): AsyncIterable<Buffer>;
  exportArchive(
    recs: Array<{ rec: ImageRecord; name?: string }>,
    dest: string,
    opts: ExportOptions,
  ): Promise<void>;
  /** Releases what the backend holds; the service calls it last, from its own close(). */
  close(): Promise<void>;
}
