/**
 * Import and export without a registry: OCI image layouts (directory or tar)
 * and `docker save` archives in; an OCI layout that also carries docker's
 * `manifest.json` (so `docker load` reads it too) out.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ImageId } from "@servin/cri-types";
import { CriError, isCriError } from "@servin/cri-types";
import { syncDir } from "@servin/node-kit";
import { ByteReader } from "./_bytes.js";
import type { ContentStore } from "./_content-store.js";
import { checkDigest, digestHex, isSha256Digest, sha256Digest } from "./_digest.js";
import { ImageExpansionBudget, layerLimits } from "./_limits.js";
import {
  isIndex,
  MT,
  type PlatformSpec,
  parseIndex,
  parseJson,
  parseManifest,
  selectPlatform,
} from "./_manifest.js";
import { parseConfig } from "./_pull.js";
import type { SnapshotStore } from "./_snapshots.js";
import { readTar } from "./_tar-reader.js";
import { padding, TAR_END, tarHeader } from "./_tar-writer.js";
import { cleanEntryPath } from "./_unpack.js";
import type {
  ExportOptions,
  ImageRecord,
  ImportedImage,
  ImportOptions,
  LayerRecord,
  LeaseScope,
  PulledImage,
} from "./backend.js";
import { familiarString, parseReference } from "./reference.js";
import type { StoreLimits } from "./registry-config.js";

interface ArchiveDeps {
  content: ContentStore;
  snapshots: SnapshotStore;
  limits: Required<StoreLimits>;
  /** Holds every blob and snapshot the import stores until the service has recorded the images. */
  lease: LeaseScope;
  platform: PlatformSpec;
}

const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;
const SMALL_CAP = 8 * 1024 * 1024;

/** Files of an archive: small JSON documents by path, and blobs by path → digest once stored. */
interface ArchiveFiles {
  json(path: string): Promise<Buffer | undefined>;
  /** Makes sure the blob at `path` (or with `digest`) is in the content store and returns its digest. */
  blob(path: string, digest?: string): Promise<{ digest: string; size: number }>;
}

async function filesOfDir(dir: string, content: ContentStore, lease: LeaseScope): Promise<ArchiveFiles> {
  const resolve = (p: string) => join(dir, cleanEntryPath(p, "archive path"));
  return {
    async json(p) {
      try {
        const st = await stat(resolve(p));
        if (st.size > SMALL_CAP) throw CriError.invalidArgument(`${p}: over the ${SMALL_CAP}-byte cap`);
        return await readFile(resolve(p));
      } catch (err) {
        if (isCriError(err)) throw err;
        return undefined;
      }
    },
    async blob(p, digest) {
      const path = resolve(p);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) throw CriError.invalidArgument(`archive: blob "${p}" is missing`);
      const m = BLOB_PATH.exec(cleanEntryPath(p));
      const want = digest ?? (m ? `sha256:${m[1]}` : undefined);
      if (want) {
        lease.add(want);
        await content.ingest(want, st.size, async () => createReadStream(path));
        return { digest: want, size: st.size };
      }
      return content.ingestUnknown(createReadStream(path), (d) => lease.add(d));
    },
  };
}

async function filesOfTar(
  source: string | ArchiveStream,
  content: ContentStore,
  lease: LeaseScope,
): Promise<ArchiveFiles> {
  const jsons = new Map<string, Buffer>();
  const blobs = new Map<string, { digest: string; size: number }>();
  const path = typeof source === "string" ? source : source.name;
  const reader = new ByteReader(
    typeof source === "string" ? createReadStream(source, { highWaterMark: 256 * 1024 }) : source.stream,
  );
  try {
    for await (const { entry, body } of readTar(reader)) {
      if (entry.type !== "file") continue;
      const rel = cleanEntryPath(entry.name, "archive entry");
      const m = BLOB_PATH.exec(rel);
      if (m) {
        const digest = `sha256:${m[1]}`;
        lease.add(digest);
        await content.ingest(digest, entry.size, async () => body);
        blobs.set(rel, { digest, size: entry.size });
      } else if (rel.endsWith(".json") || rel === "oci-layout" || rel === "repositories") {
        if (entry.size > SMALL_CAP)
          throw CriError.invalidArgument(`archive: ${rel} is over the ${SMALL_CAP}-byte cap`);
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c);
        jsons.set(rel, Buffer.concat(chunks));
      } else if (rel.endsWith("layer.tar") || rel.endsWith(".tar") || rel.endsWith(".tar.gz")) {
        blobs.set(rel, await content.ingestUnknown(body, (d) => lease.add(d)));
      }
    }
  } catch (err) {
    if (isCriError(err)) throw err;
    throw CriError.invalidArgument(`archive "${path}": ${(err as Error).message}`);
  }
  return {
    async json(p) {
      return jsons.get(cleanEntryPath(p));
    },
    async blob(p, digest) {
      const rel = cleanEntryPath(p, "archive path");
      let hit = blobs.get(rel);
      if (!hit) {
        // docker-save configs are "<hex>.json" files: store them as blobs too.
        const buf = jsons.get(rel);
        if (buf) {
          hit = { digest: sha256Digest(buf), size: buf.length };
          lease.add(hit.digest);
          await content.ingest(hit.digest, hit.size, async () => [buf]);
        }
      }
      if (!hit && digest) lease.add(digest);
      if (!hit && digest && (await content.has(digest)))
        return { digest, size: (await stat(content.path(digest))).size };
      if (!hit) throw CriError.invalidArgument(`archive: blob "${p}" is missing`);
      if (digest && hit.digest !== digest)
        throw CriError.invalidArgument(`archive: "${p}" has digest ${hit.digest}, expected ${digest}`);
      return hit;
    },
  };
}

async function unpackAll(deps: ArchiveDeps, layers: LayerRecord[], what: string): Promise<void> {
  const budget = new ImageExpansionBudget(deps.limits.maxImageBytes);
  for (const l of layers) {
    deps.lease.add(l.digest);
    deps.lease.add(l.diffId);
    await deps.snapshots.ensure(
      l.diffId,
      () => deps.content.read(l.digest),
      layerLimits(deps.limits, l.size),
      `layer ${l.digest} of ${what}`,
      budget.layer(),
    );
  }
}

async function importOciImage(
  deps: ArchiveDeps,
  files: ArchiveFiles,
  manifestDigest: string,
  what: string,
): Promise<PulledImage> {
  const { content, limits } = deps;
  await files.blob(`blobs/sha256/${digestHex(manifestDigest)}`, manifestDigest);
  let body = await content.readSmall(manifestDigest, limits.maxManifestBytes, "manifest");
  let doc = parseJson(body, `${what}: manifest ${manifestDigest}`);
  let digest = manifestDigest;
  let indexDigest: string | undefined;
  if (isIndex(String(doc.mediaType ?? ""), doc)) {
    const idx = parseIndex(doc, String(doc.mediaType ?? MT.ociIndex), `${what}: index ${manifestDigest}`);
    const desc = selectPlatform(idx, deps.platform, what);
    await files.blob(`blobs/sha256/${digestHex(desc.digest)}`, desc.digest);
    body = await content.readSmall(desc.digest, limits.maxManifestBytes, "manifest");
    doc = parseJson(body, `${what}: manifest ${desc.digest}`);
    indexDigest = manifestDigest;
    digest = desc.digest;
  }
  const manifest = parseManifest(doc, String(doc.mediaType ?? MT.ociManifest), `${what}: manifest ${digest}`);
  await files.blob(`blobs/sha256/${digestHex(manifest.config.digest)}`, manifest.config.digest);
  const config = parseConfig(
    await content.readSmall(manifest.config.digest, limits.maxConfigBytes, "config"),
    manifest.layers,
    `${what}: config`,
  );
  const layers: LayerRecord[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    await files.blob(`blobs/sha256/${digestHex(l.digest)}`, l.digest);
    layers.push({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      diffId: config.rootfs!.diff_ids![i]!,
    });
  }
  await unpackAll(deps, layers, what);
  return {
    topDigest: indexDigest ?? digest,
    record: {
      id: manifest.config.digest as ImageId,
      size: layers.reduce((n, l) => n + l.size, 0),
      manifestDigest: digest,
      manifestMediaType: manifest.mediaType,
      ...(indexDigest ? { indexDigest } : {}),
      configMediaType: manifest.config.mediaType || MT.ociConfig,
      layers,
      config,
    },
  };
}

/** Turns one docker-save `manifest.json` item into a stored image with a synthesised OCI manifest. */
async function importDockerImage(
  deps: ArchiveDeps,
  files: ArchiveFiles,
  item: { Config?: unknown; Layers?: unknown },
  what: string,
): Promise<PulledImage> {
  if (typeof item.Config !== "string" || !Array.isArray(item.Layers)) {
    throw CriError.invalidArgument(`${what}: manifest.json items need Config and Layers`);
  }
  const cfg = await files.blob(item.Config);
  const layerBlobs = [];
  for (const p of item.Layers) {
    if (typeof p !== "string") throw CriError.invalidArgument(`${what}: Layers must be paths`);
    layerBlobs.push(await files.blob(p));
  }
  const descs = layerBlobs.map((b) => ({ mediaType: MT.ociLayer, digest: b.digest, size: b.size }));
  const config = parseConfig(
    await deps.content.readSmall(cfg.digest, deps.limits.maxConfigBytes, "config"),
    descs,
    `${what}: config`,
  );
  const layers: LayerRecord[] = descs.map((d, i) => ({ ...d, diffId: config.rootfs!.diff_ids![i]! }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size },
      layers: descs,
    }),
  );
  const manifestDigest = sha256Digest(manifest);
  deps.lease.add(manifestDigest);
  await deps.content.ingest(manifestDigest, manifest.length, async () => [manifest]);
  await unpackAll(deps, layers, what);
  return {
    topDigest: manifestDigest,
    record: {
      id: cfg.digest as ImageId,
      size: layers.reduce((n, l) => n + l.size, 0),
      manifestDigest,
      manifestMediaType: MT.ociManifest,
      configMediaType: MT.ociConfig,
      layers,
      config,
    },
  };
}

/** Names an OCI index entry carries: a full `io.containerd.image.name`, or a ref.name tag joined to `opts.name`. */
function ociNames(annotations: Record<string, string> | undefined, opts: ImportOptions): string[] {
  const full = annotations?.["io.containerd.image.name"];
  if (full) return [parseReference(full).string];
  const refName = annotations?.["org.opencontainers.image.ref.name"];
  if (!refName) return opts.name ? [parseReference(opts.name).string] : [];
  if (refName.includes("/") || refName.includes("@")) return [parseReference(refName).string];
  if (opts.name) return [parseReference(`${opts.name.replace(/:[^/:]*$/, "")}:${refName}`).string];
  return [];
}

/** A tar archive arriving as a stream (e.g. an HTTP request body); `name` is how errors call it. */
export interface ArchiveStream {
  stream: AsyncIterable<Uint8Array>;
  name: string;
}

export async function importArchive(
  deps: ArchiveDeps,
  source: string | ArchiveStream,
  opts: ImportOptions,
): Promise<ImportedImage[]> {
  let files: ArchiveFiles;
  const path = typeof source === "string" ? source : source.name;
  if (typeof source === "string") {
    const st = await stat(path).catch(() => undefined);
    if (!st) throw CriError.notFound(`import: "${path}" does not exist`);
    files = st.isDirectory()
      ? await filesOfDir(path, deps.content, deps.lease)
      : await filesOfTar(path, deps.content, deps.lease);
  } else files = await filesOfTar(source, deps.content, deps.lease);
  const out: ImportedImage[] = [];
  const index = await files.json("index.json");
  const dockerManifest = await files.json("manifest.json");
  if (index) {
    const idx = parseIndex(parseJson(index, `${path}: index.json`), MT.ociIndex, `${path}: index.json`);
    for (const desc of idx.manifests) {
      checkDigest(desc.digest, `${path}: index.json`);
      deps.lease.add(desc.digest);
      out.push({
        pulled: await importOciImage(deps, files, desc.digest, `"${path}"`),
        names: ociNames(desc.annotations, opts),
      });
    }
  } else if (dockerManifest) {
    let items: unknown;
    try {
      items = JSON.parse(dockerManifest.toString("utf8"));
    } catch {
      throw CriError.invalidArgument(`${path}: manifest.json is not valid JSON`);
    }
    if (!Array.isArray(items)) throw CriError.invalidArgument(`${path}: manifest.json must be an array`);
    for (const item of items as Array<{ Config?: unknown; Layers?: unknown; RepoTags?: unknown }>) {
      const pulled = await importDockerImage(deps, files, item, `"${path}"`);
      const tags = Array.isArray(item.RepoTags)
        ? item.RepoTags.filter((t): t is string => typeof t === "string")
        : [];
      out.push({ pulled, names: tags.map((t) => parseReference(t).string) });
    }
  } else {
    throw CriError.invalidArgument(
      `import: "${path}" is neither an OCI image layout nor a docker-save archive`,
    );
  }
  return out;
}

/** The files of an OCI layout (+ docker manifest.json) holding the image(s): small documents first, then blobs. */
async function layoutFiles(
  content: ContentStore,
  recs: Array<{ rec: ImageRecord; name?: string }>,
): Promise<Array<{ name: string; data?: Buffer; blob?: string; size: number }>> {
  const files: Array<{ name: string; data?: Buffer; blob?: string; size: number }> = [];
  const seen = new Set<string>();
  const addBlob = async (digest: string) => {
    if (!isSha256Digest(digest) || seen.has(digest)) return;
    seen.add(digest);
    const size = (await stat(content.path(digest))).size;
    files.push({ name: `blobs/sha256/${digestHex(digest)}`, blob: digest, size });
  };
  const index = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] as object[] };
  const docker: object[] = [];
  for (const { rec, name } of recs) {
    await addBlob(rec.manifestDigest);
    await addBlob(rec.id);
    for (const l of rec.layers) await addBlob(l.digest);
    const ref = name ? parseReference(name) : undefined;
    index.manifests.push({
      mediaType: rec.manifestMediaType,
      digest: rec.manifestDigest,
      size: (await stat(content.path(rec.manifestDigest))).size,
      ...(ref
        ? {
            annotations: {
              "io.containerd.image.name": ref.string,
              "org.opencontainers.image.ref.name": ref.tag ?? "latest",
            },
          }
        : {}),
    });
    docker.push({
      Config: `blobs/sha256/${digestHex(rec.id)}`,
      RepoTags: ref?.tag ? [familiarString(ref)] : [],
      Layers: rec.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
    });
  }
  const small = (name: string, v: unknown) => {
    const data = Buffer.from(JSON.stringify(v));
    files.unshift({ name, data, size: data.length });
  };
  small("manifest.json", docker);
  small("index.json", index);
  small("oci-layout", { imageLayoutVersion: "1.0.0" });
  return files;
}

/** The image(s) as one tar stream (OCI layout + docker manifest.json), e.g. for an HTTP response body. */
export async function* exportTar(
  content: ContentStore,
  recs: Array<{ rec: ImageRecord; name?: string }>,
): AsyncGenerator<Buffer> {
  const files = await layoutFiles(content, recs);
  for (const d of ["blobs/", "blobs/sha256/"]) yield tarHeader({ name: d, type: "dir", mode: 0o755 });
  for (const f of files) {
    yield tarHeader({ name: f.name, type: "file", size: f.size, mode: 0o644 });
    if (f.data) yield f.data;
    else for await (const chunk of content.read(f.blob!)) yield Buffer.from(chunk);
    const pad = padding(f.size);
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield TAR_END;
}

/** Writes the image(s) as an OCI layout + docker manifest.json, as a tar file (atomically) or a directory. */
export async function exportArchive(
  content: ContentStore,
  recs: Array<{ rec: ImageRecord; name?: string }>,
  dest: string,
  opts: ExportOptions,
): Promise<void> {
  if (opts.format === "dir") {
    const files = await layoutFiles(content, recs);
    await mkdir(join(dest, "blobs", "sha256"), { recursive: true });
    for (const f of files) {
      const target = join(dest, f.name);
      if (f.data) await writeFile(target, f.data);
      else {
        const fh = await open(target, "w");
        try {
          for await (const chunk of content.read(f.blob!)) await fh.write(chunk);
        } finally {
          await fh.close();
        }
      }
    }
    return;
  }
  const tmp = `${dest}.${process.pid}.tmp`;
  const fh = await open(tmp, "w", 0o644);
  try {
    for await (const chunk of exportTar(content, recs)) await fh.write(chunk);
    await fh.sync();
    await fh.close();
    await rename(tmp, dest);
    await syncDir(dirname(dest));
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}
