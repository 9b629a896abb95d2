/** CRI v1 image types, plus what the runtime needs to know of an image to run it. */
import type { ImageSpec, Int64Value, StringMap } from "./common.js";
import type { ImageId, UnixNanos } from "./ids.js";
import type { FilesystemUsage } from "./stats.js";

export interface Image {
  id: ImageId;
  /** Normalised tags, e.g. `docker.io/library/busybox:latest`. */
  repoTags: string[];
  /** Digest references, e.g. `docker.io/library/busybox@sha256:…`. */
  repoDigests: string[];
  /** Sum of the compressed layer sizes, in bytes. */
  size: number;
  /** Set when the image config's User is a numeric UID. */
  uid?: Int64Value;
  /** Set when the image config's User is a name. */
  username?: string;
  spec?: ImageSpec;
  pinned?: boolean;
}

export interface ImageFilter {
  image?: ImageSpec;
}

export interface FilesystemInfo {
  imageFilesystems: FilesystemUsage[];
  containerFilesystems: FilesystemUsage[];
}

/** The parts of an OCI image config the runtime uses to build a container. */
export interface OciImageConfig {
  user?: string;
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  stopSignal?: string;
  volumes?: Record<string, object>;
  exposedPorts?: Record<string, object>;
  labels?: StringMap;
}

/**
 * An image resolved for running: what runtime backends need from the image
 * store (config and the unpacked layer directories, lowest first).
 */
export interface RuntimeImage {
  id: ImageId;
  /** What ContainerStatus.image_ref reports: the repo digest when known, else the ID. */
  ref: string;
  repoTags: string[];
  repoDigests: string[];
  config: OciImageConfig;
  /**
   * Absolute paths of unpacked layer snapshots, lowest (base) first. Empty for
   * images without a filesystem (memory backend). The layout is overlayfs's:
   * whiteouts are 0:0 character devices (AUFS `.wh.` files when unpacked without
   * root) and opaque directories carry `trusted.overlay.opaque=y`; because Node
   * cannot read xattrs, each snapshot dir `<layer>` also has a sidecar
   * `<layer>.json` whose `opaque` array lists its opaque directories relative to
   * the layer root ("" is the root). Backends that copy instead of mounting rely on it.
   */
  layers: string[];
  createdAt?: UnixNanos;
}

/**
 * Resolves an image reference (tag, digest reference, ID or ID prefix, short
 * name) to what the runtime needs. Implemented by @servin/image-store.
 */
export interface ImageResolver {
  /** @throws CriError NotFound when no local image matches. */
  resolveImage(ref: string): Promise<RuntimeImage>;
}
