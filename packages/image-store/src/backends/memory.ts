/**
 * createMemoryImageBackend: every well-formed reference "pulls" without a
 * network into a deterministic synthetic image. Used by tests and embedders;
 * its images have no filesystem (RuntimeImage.layers is empty).
 */
import { createHash } from "node:crypto";
import type { FilesystemInfo, ImageId, OciImageConfig } from "@servin/cri-types";
import { CriError, nowNanos } from "@servin/cri-types";
import { sha256Digest } from "../_digest.js";
import type {
  ImageBackend,
  ImageConfigFile,
  ImageRecord,
  ImportedImage,
  PullContext,
  PulledImage,
} from "../backend.js";
import { hostPlatform, type Platform } from "../platform.js";
import type { ImageReference } from "../reference.js";

export interface MemoryImageBackendOptions {
  /** The platform synthetic images are built for; default the host's. */
  platform?: Platform;
  /** Overrides the synthetic config of an image (e.g. to give it a `user`). */
  syntheticConfig?: (ref: ImageReference) => OciImageConfig | undefined;
}

const MiB = 1024 * 1024;

/** A canonical JSON encoding (sorted keys) so the synthetic digests never depend on key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Builds the synthetic image for a reference: same input, same ID, size and layers, every time. */
function synthesizeImage(ref: ImageReference, platform: Platform, override?: OciImageConfig): PulledImage {
  // The image's identity is its repository plus what pins it (digest, else tag).
  const identity = ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? "latest"}`;
  const seed = createHash("sha256").update(identity).digest();
  const layerCount = 1 + (seed[0]! % 3);
  const layers = Array.from({ length: layerCount }, (_, i) => {
    const diffId = sha256Digest(`servin-memory-layer:${identity}:${i}:diff`);
    const digest = sha256Digest(`servin-memory-layer:${identity}:${i}:blob`);
    const size = MiB + (seed.readUInt32BE(4 + i * 4) % (4 * MiB));
    return { digest, size, diffId, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" };
  });
  const c = override ?? {};
  const config: ImageConfigFile = {
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: "2024-01-01T00:00:00Z",
    config: {
      Env: c.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: c.cmd ?? ["/bin/sh"],
      ...(c.user ? { User: c.user } : {}),
      ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
      ...(c.workingDir ? { WorkingDir: c.workingDir } : {}),
      ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
      ...(c.labels ? { Labels: c.labels } : {}),
      ...(c.exposedPorts ? { ExposedPorts: c.exposedPorts } : {}),
      ...(c.volumes ? { Volumes: c.volumes } : {}),
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: [{ created_by: `servin memory backend: ${identity}` }],
  };
  const configJson = canonicalJson(config);
  const id = sha256Digest(configJson) as ImageId;
  const manifest = canonicalJson({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: id, size: configJson.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
  const manifestDigest = sha256Digest(manifest);
  return {
    topDigest: ref.digest ?? manifestDigest,
    record: {
      id,
      size: layers.reduce((n, l) => n + l.size, 0),
      manifestDigest: ref.digest ?? manifestDigest,
      manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
      configMediaType: "application/vnd.oci.image.config.v1+json",
      layers,
      config,
    },
  };
}

/**
 * The memory image backend: nothing is downloaded or stored; import and export
 * answer Unimplemented. Each call makes an independent store.
 *
 * @example
 * const images = await createImageService({
 *   backend: createMemoryImageBackend({ syntheticConfig: () => ({ user: "1000" }) }),
 * });
 */
export function createMemoryImageBackend(opts: MemoryImageBackendOptions = {}): ImageBackend {
  const platform = opts.platform ?? hostPlatform();
  let images: ImageRecord[] = [];
  return {
    kind: "memory",
    async load() {
      return [];
    },
    async persist(records) {
      images = records;
    },
    async pull(ref: ImageReference, ctx: PullContext) {
      if (ctx.signal?.aborted) throw new CriError("Aborted", `pull of "${ref.string}" was cancelled`);
      const pulled = synthesizeImage(ref, platform, opts.syntheticConfig?.(ref));
      for (const layer of pulled.record.layers) {
        ctx.onProgress?.({
          digest: layer.digest,
          kind: "layer",
          total: layer.size,
          current: layer.size,
          status: "done",
        });
      }
      return pulled;
    },
    layerPaths() {
      return [];
    },
    newLease() {
      // Nothing is stored, so nothing needs holding.
      return { add() {}, release() {} };
    },
    async collectGarbage() {},
    async fsInfo(): Promise<FilesystemInfo> {
      // Like the disk backend: bytes the images take and one inode per distinct layer.
      const layers = new Map<string, number>();
      for (const img of images) for (const l of img.layers) layers.set(l.digest, l.size);
      let used = 0;
      for (const size of layers.values()) used += size;
      return {
        imageFilesystems: [
          {
            timestamp: nowNanos(),
            fsId: { mountpoint: "memory" },
            usedBytes: { value: used },
            inodesUsed: { value: layers.size },
          },
        ],
        containerFilesystems: [],
      };
    },
    async importArchive(): Promise<ImportedImage[]> {
      throw CriError.unimplemented(
        "importImage",
        "the memory image backend has no content store; use createDiskImageBackend",
      );
    },
    async exportArchive() {
      throw CriError.unimplemented(
        "exportImage",
        "the memory image backend has no content store; use createDiskImageBackend",
      );
    },
    exportTar(): AsyncIterable<Buffer> {
      throw CriError.unimplemented(
        "exportImage",
        "the memory image backend has no content store; use createDiskImageBackend",
      );
    },
    async close() {},
  };
}
