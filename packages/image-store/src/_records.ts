/** Image records (what the store knows of each image) and the lookups the CRI needs over them. */
import type { Image, OciImageConfig, RuntimeImage } from "@servin/cri-types";
import { CriError, parseImageId } from "@servin/cri-types";
import type { ImageConfigFile, ImageRecord } from "./backend.js";
import { type ImageReference, tryParseReference } from "./reference.js";

/** A record's last CRI view, with what it was made from (see toCriImage). */
interface CriImageView {
  image: Image;
  tags: string[];
  tagCount: number;
  digests: string[];
  digestCount: number;
  size: number;
  pinned: boolean | undefined;
}

const views = new WeakMap<ImageRecord, CriImageView>();

/**
 * The CRI Image view of a record, with uid/username derived as containerd does. Built once per
 * version of the record and frozen, so that ImageStatus and ListImages neither copy it per call nor
 * encode it again (the encoders keep the bytes of frozen objects). A record changes in place only by
 * its tag and digest lists (replaced, or grown by push), its size and its pin; its config never does.
 */
export function toCriImage(rec: ImageRecord): Image {
  const seen = views.get(rec);
  if (
    seen !== undefined &&
    seen.tags === rec.repoTags &&
    seen.tagCount === rec.repoTags.length &&
    seen.digests === rec.repoDigests &&
    seen.digestCount === rec.repoDigests.length &&
    seen.size === rec.size &&
    seen.pinned === rec.pinned
  )
    return seen.image;
  const image: Image = {
    id: rec.id,
    repoTags: Object.freeze([...rec.repoTags]) as string[],
    repoDigests: Object.freeze([...rec.repoDigests]) as string[],
    size: rec.size,
    spec: Object.freeze({ image: rec.id }),
    pinned: rec.pinned ?? false,
  };
  const user = userOf(rec.config);
  if (user.uid !== undefined) image.uid = Object.freeze({ value: user.uid });
  else if (user.username !== undefined) image.username = user.username;
  Object.freeze(image);
  views.set(rec, {
    image,
    tags: rec.repoTags,
    tagCount: rec.repoTags.length,
    digests: rec.repoDigests,
    digestCount: rec.repoDigests.length,
    size: rec.size,
    pinned: rec.pinned,
  });
  return image;
}

/**
 * containerd's rule: the part of `User` before ":" is a UID when numeric,
 * else a user name; an empty User sets neither.
 */
export function userOf(config: ImageConfigFile): { uid?: number; username?: string } {
  const user = config.config?.User ?? "";
  const first = user.split(":")[0] ?? "";
  if (first === "") return {};
  if (/^[0-9]+$/.test(first)) return { uid: Number(first) };
  return { username: first };
}

/** The config fields the runtime needs, in cri-types' lowerCamelCase. */
export function runtimeConfigOf(config: ImageConfigFile): OciImageConfig {
  const c = config.config ?? {};
  const out: OciImageConfig = {};
  if (c.User) out.user = c.User;
  if (c.Env) out.env = [...c.Env];
  if (c.Entrypoint) out.entrypoint = [...c.Entrypoint];
  if (c.Cmd) out.cmd = [...c.Cmd];
  if (c.WorkingDir) out.workingDir = c.WorkingDir;
  if (c.StopSignal) out.stopSignal = c.StopSignal;
  if (c.Volumes) out.volumes = { ...c.Volumes };
  if (c.ExposedPorts) out.exposedPorts = { ...c.ExposedPorts };
  if (c.Labels) out.labels = { ...c.Labels };
  return out;
}

export function toRuntimeImage(rec: ImageRecord, layers: string[]): RuntimeImage {
  const created = rec.config.created ? Date.parse(rec.config.created) : Number.NaN;
  return {
    id: rec.id,
    // containerd reports the first repo digest as ContainerStatus.image_ref, else the ID.
    ref: rec.repoDigests[0] ?? rec.id,
    repoTags: [...rec.repoTags],
    repoDigests: [...rec.repoDigests],
    config: runtimeConfigOf(rec.config),
    layers,
    ...(Number.isFinite(created) ? { createdAt: BigInt(created) * 1_000_000n } : {}),
  };
}

const HEX_PREFIX = /^(?:sha256:)?([a-f0-9]{1,64})$/;

/**
 * Parsed references by their text: kubelet asks ImageStatus about the same few images over and over,
 * and parsing one (domain rules, normalisation) was a measurable share of the call. Bounded; the
 * parsed values are frozen, so a hit can be shared.
 */
const parsedReferences = new Map<string, Readonly<ImageReference> | undefined>();
const PARSED_REFERENCES_MAX = 512;

function parsedReference(ref: string): Readonly<ImageReference> | undefined {
  const hit = parsedReferences.get(ref);
  if (hit !== undefined || parsedReferences.has(ref)) return hit;
  const parsed = tryParseReference(ref);
  if (parsedReferences.size >= PARSED_REFERENCES_MAX) parsedReferences.clear();
  parsedReferences.set(ref, parsed && Object.freeze(parsed));
  return parsed;
}

/**
 * Finds the image a CRI reference names: a full ID (`sha256:…` or bare hex),
 * a tag or digest reference (normalised, so short names work), or a unique ID
 * prefix (as docker tries it after the name). Returns undefined when nothing
 * matches; an ambiguous prefix is InvalidArgument.
 */
export function findImage(records: Iterable<ImageRecord>, ref: string): ImageRecord | undefined {
  const all = [...records];
  const full = parseImageId(ref) ?? parseImageId(`sha256:${ref}`);
  if (full) return all.find((r) => r.id === full);

  const parsed = parsedReference(ref);
  if (parsed) {
    if (parsed.digest) {
      const want = `${parsed.name}@${parsed.digest}`;
      const hit = all.find((r) => r.repoDigests.includes(want));
      if (hit) return hit;
    } else if (parsed.tag !== undefined) {
      const hit = all.find((r) => r.repoTags.includes(parsed.string));
      if (hit) return hit;
    }
  }

  const m = HEX_PREFIX.exec(ref);
  if (m) {
    const prefix = `sha256:${m[1]}`;
    const hits = all.filter((r) => r.id.startsWith(prefix));
    if (hits.length > 1) throw CriError.invalidArgument(`image ID prefix "${ref}" is ambiguous`);
    return hits[0];
  }
  return undefined;
}
