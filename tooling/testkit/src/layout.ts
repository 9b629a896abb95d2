/** Writes OCI image layouts (oci-layout, index.json, blobs/sha256) from layer specs, offline. */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { buildTar, type TarSpec } from "./tar.js";

export const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  tar: "application/vnd.oci.image.layer.v1.tar",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
} as const;

export type Compression = "gzip" | "zstd" | "none";

export interface LayerInput {
  entries: TarSpec[];
  compression?: Compression;
}

export interface BuiltLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export interface BuiltImage {
  /** The `org.opencontainers.image.ref.name` in the layout (what `oci:DIR:TAG` selects). */
  tag: string;
  /** Digest of the manifest (or of the index, for multi-platform images). */
  digest: string;
  manifestDigest: string;
  configDigest: string;
  layers: BuiltLayer[];
  config: Record<string, unknown>;
  /** Multi-platform images: the manifests per "os/arch[/variant]". */
  platforms?: Record<string, BuiltImage>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** True when the `zstd` binary is available (zstd layers are skipped without it). */
export function hasZstd(): boolean {
  return spawnSync("zstd", ["--version"]).status === 0;
}

function compress(tar: Buffer, c: Compression): Buffer {
  if (c === "gzip") return gzipSync(tar, { level: 6 });
  if (c === "zstd") {
    const r = spawnSync("zstd", ["-q", "-c", "-3"], { input: tar, maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`zstd failed: ${r.stderr}`);
    return r.stdout;
  }
  return tar;
}

/** One OCI image layout directory holding any number of tagged images and indexes. */
export class OciLayout {
  private readonly manifests: Descriptor[] = [];
  constructor(readonly dir: string) {}

  async init(): Promise<this> {
    await mkdir(join(this.dir, "blobs", "sha256"), { recursive: true });
    await writeFile(join(this.dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    try {
      const idx = JSON.parse(await readFile(join(this.dir, "index.json"), "utf8")) as {
        manifests: Descriptor[];
      };
      this.manifests.push(...idx.manifests);
    } catch {}
    await this.save();
    return this;
  }

  async blob(data: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = sha256(data);
    await writeFile(join(this.dir, "blobs", "sha256", digest.slice(7)), data);
    return { mediaType, digest, size: data.length };
  }

  async layer(input: LayerInput): Promise<BuiltLayer> {
    const tar = buildTar(input.entries);
    const c = input.compression ?? "gzip";
    const blob = compress(tar, c);
    const mediaType = c === "gzip" ? MEDIA.gzip : c === "zstd" ? MEDIA.zstd : MEDIA.tar;
    const d = await this.blob(blob, mediaType);
    return { digest: d.digest, size: d.size, mediaType, diffId: sha256(tar) };
  }

  /** Writes an image; `config` is merged into a default config whose rootfs lists the layers' diffIDs. */
  async image(
    tag: string | undefined,
    layers: BuiltLayer[],
    config: Record<string, unknown> = {},
    opts: { diffIds?: string[]; platform?: { os: string; architecture: string; variant?: string } } = {},
  ): Promise<BuiltImage> {
    const platform = opts.platform ?? { os: "linux", architecture: "amd64" };
    const full = {
      created: "2024-01-01T00:00:00Z",
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        Cmd: ["/bin/sh"],
      },
      ...config,
      rootfs: { type: "layers", diff_ids: opts.diffIds ?? layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({
        created: "2024-01-01T00:00:00Z",
        created_by: `servin testkit layer ${i}`,
      })),
    };
    const cfg = await this.blob(Buffer.from(JSON.stringify(full)), MEDIA.config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: cfg.mediaType, digest: cfg.digest, size: cfg.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    );
    const m = await this.blob(manifest, MEDIA.manifest);
    if (tag) this.tag(tag, m);
    await this.save();
    return {
      tag: tag ?? "",
      digest: m.digest,
      manifestDigest: m.digest,
      configDigest: cfg.digest,
      layers,
      config: full,
    };
  }

  /** Writes an OCI index over images built with per-platform configs. */
  async index(
    tag: string,
    images: Array<{ image: BuiltImage; platform: { os: string; architecture: string; variant?: string } }>,
  ): Promise<BuiltImage> {
    const manifests: Descriptor[] = [];
    for (const { image, platform } of images) {
      const size = (await readFile(join(this.dir, "blobs", "sha256", image.manifestDigest.slice(7)))).length;
      manifests.push({ mediaType: MEDIA.manifest, digest: image.manifestDigest, size, platform });
    }
    const idx = await this.blob(
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests })),
      MEDIA.index,
    );
    this.tag(tag, idx);
    await this.save();
    const first = images[0]!.image;
    return {
      ...first,
      tag,
      digest: idx.digest,
      platforms: Object.fromEntries(
        images.map(({ image, platform }) => [
          [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/"),
          image,
        ]),
      ),
    };
  }

  private tag(tag: string, d: Descriptor): void {
    const i = this.manifests.findIndex((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
    if (i >= 0) this.manifests.splice(i, 1);
    this.manifests.push({ ...d, annotations: { "org.opencontainers.image.ref.name": tag } });
  }

  private async save(): Promise<void> {
    await writeFile(
      join(this.dir, "index.json"),
      JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests: this.manifests }),
    );
  }
}
