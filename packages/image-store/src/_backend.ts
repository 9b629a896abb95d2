/** The seam between the CRI image service and where images come from and live (memory or disk). */
import type { AuthConfig, FilesystemInfo, PullProgress } from "@servin/cri-types";
import type { ImageRecord } from "./_records.js";
import type { ImageReference } from "./reference.js";

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
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ExportOptions {
  /** `tar` (default) writes one tar file; `dir` writes an OCI layout directory. */
  format?: "tar" | "dir";
}

export interface StoreBackend {
  readonly kind: "memory" | "disk";
  load(): Promise<ImageRecord[]>;
  persist(records: ImageRecord[]): Promise<void>;
  pull(ref: ImageReference, ctx: PullContext): Promise<PulledImage>;
  /** A lease scope: blobs and snapshots added to it survive GC until it is released. */
  newLease(): LeaseScope;
  layerPaths(rec: ImageRecord): string[];
  /** Deletes blobs and snapshots no live record (and no pull in progress) uses. */
  collectGarbage(live: ImageRecord[]): Promise<void>;
  fsInfo(): Promise<FilesystemInfo>;
  /** `source` is a path on this host, or a tar stream (`name` says what errors call it). */
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
  close(): Promise<void>;
}
