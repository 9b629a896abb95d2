/** PullImage for the disk backend: resolve, choose the platform, download verified blobs, unpack layers. */
import type { ImageId, PullProgress } from "@servin/cri-types";
import { CriError, isCriError } from "@servin/cri-types";
import type { Logger } from "@servin/node-kit";
import { BlobVerifyError, type ContentStore, IngestAbortedError } from "./_content-store.js";
import { checkDigest } from "./_digest.js";
import { ImageExpansionBudget, layerLimits, type MeteredCallback } from "./_limits.js";
import {
  type Descriptor,
  isIndex,
  type Manifest,
  MT,
  type PlatformSpec,
  parseIndex,
  parseJson,
  parseManifest,
  selectPlatform,
} from "./_manifest.js";
import type { Endpoint, RegistryClient } from "./_registry.js";
import type { SnapshotStore } from "./_snapshots.js";
import { BlobTee } from "./_tee.js";
import type { ImageConfigFile, LayerRecord, LeaseScope, PullContext, PulledImage } from "./backend.js";
import type { ImageReference } from "./reference.js";
import type { StoreLimits } from "./registry-config.js";

/** Digests and diffIDs a pull in progress holds, so GC never deletes them under it. */
export class Leases {
  private readonly held = new Map<string, number>();
  add(key: string): void {
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
  }
  release(key: string): void {
    const n = (this.held.get(key) ?? 1) - 1;
    if (n <= 0) this.held.delete(key);
    else this.held.set(key, n);
  }
  has(key: string): boolean {
    return this.held.has(key);
  }
  /** A set of leases released together (a pull or import, until the service has recorded its image). */
  scope(): LeaseScope {
    const keys: string[] = [];
    let released = false;
    return {
      add: (key) => {
        if (released) return;
        this.add(key);
        keys.push(key);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const k of keys) this.release(k);
      },
    };
  }
}

export interface PullDeps {
  client: RegistryClient;
  content: ContentStore;
  snapshots: SnapshotStore;
  limits: Required<StoreLimits>;
  platform: PlatformSpec;
  leases: Leases;
  concurrency: number;
  retries: number;
  logger: Pick<Logger, "debug" | "warn">;
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure rejects (after in-flight ones settle). */
export async function mapLimited<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

async function* once(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

/** Parses an image config and checks it against the manifest's layers. */
export function parseConfig(body: Buffer, layers: Descriptor[], what: string): ImageConfigFile {
  const config = parseJson(body, what) as ImageConfigFile;
  const diffIds = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIds)) throw CriError.invalidArgument(`${what}: rootfs.diff_ids must be an array`);
  if (diffIds.length !== layers.length) {
    throw CriError.invalidArgument(`${what}: ${diffIds.length} diff_ids for ${layers.length} layers`);
  }
  for (const [i, d] of diffIds.entries()) checkDigest(d, `${what}: rootfs.diff_ids[${i}]`);
  return config;
}

export async function pullFromRegistry(
  deps: PullDeps,
  ref: ImageReference,
  ctx: PullContext,
): Promise<PulledImage> {
  const { client, content, limits } = deps;
  const signal = ctx.signal;
  const emit = (e: PullProgress) => {
    try {
      ctx.onProgress?.(e);
    } catch {
      // A progress consumer never breaks a pull.
    }
  };
  // The service passes a scope it releases once the image is recorded: until then
  // only the leases keep GC off this pull's blobs and snapshots.
  const scope = ctx.lease ?? deps.leases.scope();
  const lease = (key: string) => scope.add(key);
  const endpoints = client.endpoints(ref);
  const reference = ref.digest ?? ref.tag ?? "latest";
  try {
    // 1. The reference's manifest or index, from the first endpoint that has it.
    const top = await client.firstOf(endpoints, ref, ctx.auth, (ep, creds) =>
      client.fetchManifest(ep, ref, reference, creds, limits.maxManifestBytes, signal),
    );
    emit({
      digest: top.digest,
      kind: "manifest",
      total: top.body.length,
      current: top.body.length,
      status: "done",
    });
    lease(top.digest);
    await content.ingest(top.digest, top.body.length, async () => once(top.body));
    // Later requests go to the endpoint that answered first, then the others.
    const preferred: Endpoint[] = [top.endpoint, ...endpoints.filter((e) => e !== top.endpoint)];

    let manifestDigest = top.digest;
    let manifestBody = top.body;
    let mediaType = top.mediaType;
    let indexDigest: string | undefined;
    let doc = parseJson(top.body, `manifest of "${ref.string}"`);
    if (isIndex(top.mediaType, doc)) {
      const index = parseIndex(doc, top.mediaType, `index of "${ref.string}"`);
      const desc = selectPlatform(index, deps.platform, `image "${ref.string}"`);
      if (desc.size > limits.maxManifestBytes) {
        throw CriError.invalidArgument(
          `manifest ${desc.digest} of "${ref.string}" is ${desc.size} bytes, over the cap`,
        );
      }
      const child = await client.firstOf(preferred, ref, ctx.auth, (ep, creds) =>
        client.fetchManifest(ep, ref, desc.digest, creds, limits.maxManifestBytes, signal),
      );
      if (child.body.length !== desc.size) {
        throw CriError.invalidArgument(
          `manifest ${desc.digest} of "${ref.string}": ${child.body.length} bytes, index says ${desc.size}`,
        );
      }
      indexDigest = top.digest;
      manifestDigest = child.digest;
      manifestBody = child.body;
      mediaType = child.mediaType || desc.mediaType;
      doc = parseJson(child.body, `manifest ${child.digest}`);
      emit({
        digest: child.digest,
        kind: "manifest",
        total: child.body.length,
        current: child.body.length,
        status: "done",
      });
      lease(child.digest);
      await content.ingest(child.digest, child.body.length, async () => once(manifestBody));
    }
    const manifest: Manifest = parseManifest(doc, mediaType, `manifest ${manifestDigest} of "${ref.string}"`);

    // 2. The config (its digest is the image ID).
    const cfg = manifest.config;
    if (cfg.size > limits.maxConfigBytes) {
      throw CriError.invalidArgument(
        `config ${cfg.digest} of "${ref.string}" is ${cfg.size} bytes, over the ${limits.maxConfigBytes}-byte cap`,
      );
    }
    lease(cfg.digest);
    await fetchBlob(deps, preferred, ref, ctx, cfg, "config", emit);
    const config = parseConfig(
      await content.readSmall(cfg.digest, limits.maxConfigBytes, "config"),
      manifest.layers,
      `config ${cfg.digest}`,
    );
    const diffIds = config.rootfs!.diff_ids!;

    // 3. Layers, in parallel: each unpacks into its snapshot while it downloads (streamLayer); a layer
    // whose blob or snapshot is already there or in flight elsewhere, or whose streamed download
    // broke, takes the classic path: download (verified, retried), then unpack from the stored blob.
    const layers: LayerRecord[] = manifest.layers.map((l, i) => ({
      digest: l.digest,
      size: l.size,
      mediaType: l.mediaType,
      diffId: diffIds[i]!,
    }));
    for (const l of layers) {
      lease(l.digest);
      lease(l.diffId);
      emit({ digest: l.digest, kind: "layer", total: l.size, current: 0, status: "waiting" });
    }
    const budget = new ImageExpansionBudget(limits.maxImageBytes);
    await mapLimited(manifest.layers, deps.concurrency, async (desc, i) => {
      const layer = layers[i]!;
      const onBytes = budget.layer();
      if (await streamLayer(deps, preferred, ref, ctx, desc, layer, onBytes, emit)) {
        emit({
          digest: desc.digest,
          kind: "layer",
          total: desc.size,
          current: desc.size,
          status: "unpacked",
        });
        return;
      }
      await fetchBlob(deps, preferred, ref, ctx, desc, "layer", emit);
      if (signal?.aborted) throw abortError(signal, ref);
      emit({ digest: desc.digest, kind: "layer", total: desc.size, current: 0, status: "unpacking" });
      await deps.snapshots.ensure(
        layer.diffId,
        () => content.read(layer.digest),
        layerLimits(limits, desc.size),
        `layer ${desc.digest} of "${ref.string}"`,
        onBytes,
      );
      emit({ digest: desc.digest, kind: "layer", total: desc.size, current: desc.size, status: "unpacked" });
    });

    return {
      topDigest: top.digest,
      record: {
        id: cfg.digest as ImageId,
        size: layers.reduce((n, l) => n + l.size, 0),
        manifestDigest,
        manifestMediaType: mediaType || MT.ociManifest,
        ...(indexDigest ? { indexDigest } : {}),
        configMediaType: cfg.mediaType,
        layers,
        config,
      },
    };
  } finally {
    if (!ctx.lease) scope.release();
  }
}

/** The error of a cancelled pull: the signal's own CriError reason (e.g. DeadlineExceeded), else Aborted. */
export function abortError(signal: AbortSignal | undefined, ref: ImageReference): CriError {
  const reason: unknown = signal?.reason;
  if (isCriError(reason)) return reason;
  return new CriError("Aborted", `pull of "${ref.string}" was cancelled`);
}

/**
 * Downloads a layer and unpacks it in the same pass: the download streams into its blob file and,
 * through a bounded tee, into the unpacker (decompression on the thread pool, file creation), so a
 * layer is never held in memory and no layer waits for another. The blob is committed once its
 * digest verified; the snapshot only after that (and its own diffID check): a digest mismatch or a
 * cancel leaves neither. Answers false when the classic path must do the work instead: the blob or
 * the snapshot is present or being made by another pull, or the download broke (fetchBlob retries).
 */
async function streamLayer(
  deps: PullDeps,
  endpoints: Endpoint[],
  ref: ImageReference,
  ctx: PullContext,
  desc: Descriptor,
  layer: LayerRecord,
  onBytes: (n: number) => void,
  emit: (e: PullProgress) => void,
): Promise<boolean> {
  const { client, content, snapshots, limits } = deps;
  if ((await content.has(desc.digest, desc.size)) || (await snapshots.has(layer.diffId))) return false;
  // No await from this check to ensure(): no other unpack of this diffID can start in between.
  if (content.isInflight(desc.digest) || snapshots.isInflight(layer.diffId)) return false;
  const tee = new BlobTee();
  let lastEmit = 0;
  const progress = (current: number, total: number) => {
    if (current - lastEmit >= 256 * 1024 || current === total) {
      lastEmit = current;
      emit({ digest: desc.digest, kind: "layer", total, current, status: "downloading" });
    }
  };
  let unpacking = false;
  // Keeps the budget's shared meter: an unpack on a worker thread counts into it there.
  const counted: MeteredCallback = Object.assign(
    (n: number) => {
      if (!unpacking) {
        unpacking = true;
        emit({ digest: desc.digest, kind: "layer", total: desc.size, current: 0, status: "unpacking" });
      }
      onBytes(n);
    },
    { meter: (onBytes as MeteredCallback).meter },
  );
  const downloaded = content
    .ingest(
      desc.digest,
      desc.size,
      async (shared) =>
        (
          await client.firstOf(endpoints, ref, ctx.auth, (ep, creds) =>
            client.openBlob(ep, ref, desc.digest, creds, shared),
          )
        ).body,
      progress,
      ctx.signal,
      tee,
    )
    .then(
      () => {
        // Joined another caller's download: the unpack reads the stored blob.
        tee.detach();
        emit({ digest: desc.digest, kind: "layer", total: desc.size, current: desc.size, status: "done" });
      },
      (err: unknown) => {
        tee.end(err);
        throw err;
      },
    );
  downloaded.catch(() => undefined);
  try {
    await snapshots.ensure(
      layer.diffId,
      () => tee.read(() => content.read(desc.digest)),
      layerLimits(limits, desc.size),
      `layer ${desc.digest} of "${ref.string}"`,
      counted,
      () => downloaded,
    );
  } catch (err) {
    // The layer is to blame only if its blob is the one the manifest names: let the download finish
    // (without the unpack) and check. A blob that broke or failed its digest goes to fetchBlob's retries.
    tee.close();
    try {
      await downloaded;
    } catch {
      if (ctx.signal?.aborted) throw abortError(ctx.signal, ref);
      return false;
    }
    throw err;
  } finally {
    tee.close();
  }
  try {
    // Normally settled already (the snapshot waited for it); not when the snapshot was there.
    await downloaded;
  } catch {
    if (ctx.signal?.aborted) throw abortError(ctx.signal, ref);
    return false;
  }
  return true;
}

/** Downloads one blob into the content store, retrying restarts of broken transfers. */
async function fetchBlob(
  deps: PullDeps,
  endpoints: Endpoint[],
  ref: ImageReference,
  ctx: PullContext,
  desc: Descriptor,
  kind: "config" | "layer",
  emit: (e: PullProgress) => void,
): Promise<void> {
  const { client, content } = deps;
  if (await content.has(desc.digest, desc.size)) {
    emit({ digest: desc.digest, kind, total: desc.size, current: desc.size, status: "exists" });
    return;
  }
  let lastEmit = 0;
  const progress = (current: number, total: number) => {
    if (current - lastEmit >= 256 * 1024 || current === total) {
      lastEmit = current;
      emit({ digest: desc.digest, kind, total, current, status: "downloading" });
    }
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await content.ingest(
        desc.digest,
        desc.size,
        // A download shared with other pulls runs on its own signal, cancelled only when all of them are.
        async (shared) => {
          const res = await client.firstOf(endpoints, ref, ctx.auth, (ep, creds) =>
            client.openBlob(ep, ref, desc.digest, creds, shared),
          );
          return res.body;
        },
        progress,
        ctx.signal,
      );
      emit({ digest: desc.digest, kind, total: desc.size, current: desc.size, status: "done" });
      return;
    } catch (err) {
      if (ctx.signal?.aborted || err instanceof IngestAbortedError) throw abortError(ctx.signal, ref);
      if (isCriError(err) && err.code !== "Unavailable") throw err;
      if (attempt >= deps.retries) {
        if (err instanceof BlobVerifyError) {
          throw CriError.invalidArgument(`${kind} ${desc.digest} of "${ref.string}": ${err.message}`);
        }
        if (isCriError(err)) throw err;
        throw new CriError(
          "Unavailable",
          `downloading ${kind} ${desc.digest} of "${ref.string}": ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      deps.logger.debug(`retrying ${desc.digest} after: ${(err as Error).message}`);
    }
  }
}
