/** OCI and Docker v2 manifests and indexes: media types, validation of untrusted JSON, platform selection. */
import { CriError } from "@servin/cri-types";
import { checkDigest } from "./_digest.js";

export const MT = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** What we ask registries for, best first. */
export const MANIFEST_ACCEPT = [MT.ociIndex, MT.dockerList, MT.ociManifest, MT.dockerManifest].join(", ");

const LAYER_TYPES = new Set<string>([
  MT.ociLayer,
  MT.ociLayerGzip,
  MT.ociLayerZstd,
  MT.dockerLayer,
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.diff.tar",
]);

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface Manifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  mediaType: string;
  manifests: Descriptor[];
}

function bad(what: string, why: string): CriError {
  return CriError.invalidArgument(`${what}: ${why}`);
}

function descriptor(v: unknown, what: string): Descriptor {
  if (!v || typeof v !== "object") throw bad(what, "expected a descriptor object");
  const d = v as Record<string, unknown>;
  const digest = checkDigest(d.digest, `${what}.digest`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(what, "size must be a non-negative integer");
  }
  const out: Descriptor = {
    mediaType: typeof d.mediaType === "string" ? d.mediaType : "",
    digest,
    size: d.size,
  };
  if (d.platform && typeof d.platform === "object") out.platform = d.platform as Descriptor["platform"];
  if (d.annotations && typeof d.annotations === "object")
    out.annotations = d.annotations as Record<string, string>;
  return out;
}

export function parseJson(body: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString("utf8"));
  } catch {
    throw bad(what, "not valid JSON");
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw bad(what, "expected a JSON object");
  return doc as Record<string, unknown>;
}

/** Tells an index from a manifest, by the declared media type or the document's shape. */
export function isIndex(mediaType: string, doc: Record<string, unknown>): boolean {
  if (mediaType === MT.ociIndex || mediaType === MT.dockerList) return true;
  if (mediaType === MT.ociManifest || mediaType === MT.dockerManifest) return false;
  return Array.isArray(doc.manifests);
}

export function parseIndex(doc: Record<string, unknown>, mediaType: string, what: string): Index {
  if (doc.schemaVersion !== 2) throw bad(what, "schemaVersion must be 2");
  if (!Array.isArray(doc.manifests)) throw bad(what, "manifests must be an array");
  return { mediaType, manifests: doc.manifests.map((m, i) => descriptor(m, `${what}.manifests[${i}]`)) };
}

export function parseManifest(doc: Record<string, unknown>, mediaType: string, what: string): Manifest {
  if (doc.schemaVersion === 1) {
    throw new CriError(
      "FailedPrecondition",
      `${what}: Docker schema 1 manifests are not supported (deprecated); re-push the image`,
    );
  }
  if (doc.schemaVersion !== 2) throw bad(what, "schemaVersion must be 2");
  const config = descriptor(doc.config, `${what}.config`);
  if (!Array.isArray(doc.layers)) throw bad(what, "layers must be an array");
  const layers = doc.layers.map((l, i) => descriptor(l, `${what}.layers[${i}]`));
  for (const [i, l] of layers.entries()) {
    if (!LAYER_TYPES.has(l.mediaType)) {
      throw bad(
        `${what}.layers[${i}]`,
        `unsupported layer media type "${l.mediaType}" (not a container image?)`,
      );
    }
  }
  return {
    mediaType: mediaType || (typeof doc.mediaType === "string" ? doc.mediaType : MT.ociManifest),
    config,
    layers,
  };
}

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * Picks the manifest for `want` as containerd's default matcher does: same os
 * and architecture; an exact variant wins, then a manifest without variant;
 * for arm64 "v8" and no variant are the same thing.
 */
export function selectPlatform(index: Index, want: PlatformSpec, what: string): Descriptor {
  const norm = (arch: string | undefined, variant: string | undefined) =>
    arch === "arm64" && (variant === "v8" || !variant) ? "" : (variant ?? "");
  const candidates = index.manifests.filter(
    (m) => m.platform?.os === want.os && m.platform?.architecture === want.architecture,
  );
  const wantVariant = norm(want.architecture, want.variant);
  const exact = candidates.find((m) => norm(m.platform?.architecture, m.platform?.variant) === wantVariant);
  const loose = candidates.find((m) => !m.platform?.variant);
  const pick = exact ?? loose ?? (wantVariant === "" ? candidates[0] : undefined);
  if (!pick) {
    const have = index.manifests
      .map((m) => [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join("/"))
      .join(", ");
    const platform = [want.os, want.architecture, want.variant].filter(Boolean).join("/");
    throw CriError.notFound(`${what}: no manifest for platform ${platform} (available: ${have || "none"})`);
  }
  return pick;
}
