/**
 * A large, realistic multi-layer image for pull benchmarks (~305 MiB unpacked, ~227 MiB of gzip
 * layers, 5 layers), built offline and pushed once to the conformance kit's registry.
 *
 * Layers, in order (each a gzip -6 tar, as `docker build` writes them):
 *   1. base: busybox-static and its applet links, /etc basics (~1 MiB);
 *   2. many small files: 8 000 files of 0.5–12 KiB in 200 directories, text and binary mixed,
 *      plus symlinks (a node_modules / site-packages tree, ~50 MiB);
 *   3. big incompressible files: 180 MiB of random bytes in 3 files (models, media, binaries);
 *   4. compressible text: 40 files of 1 MiB of log-like text (~40 MiB, 5 MiB gzipped);
 *   5. mixed: 30 MiB of base64 (semi-compressible), 500 small files, hard links, symlinks and a
 *      whiteout deleting a file of layer 2.
 *
 * The reference is plain `127.0.0.1:5000/servin-bench/big:1`: servin reaches it through
 * tooling/conformance/servin.toml (`[registries."127.0.0.1:5000"] insecure = true`), containerd
 * through containerd-up.sh's `certs.d/127.0.0.1:5000/hosts.toml` (http). No mirror rewrites
 * `servin-bench/…`, and no critest image lives there.
 */
import { execFile, spawn } from "node:child_process";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { copyFile, link, mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Transform } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createGzip } from "node:zlib";

const run = promisify(execFile);

export const BIG_IMAGE_REPOSITORY = "servin-bench/big";
export const BIG_IMAGE_TAG = "1";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

/** Deterministic text from a small vocabulary, compressible like logs (gzip: ~7:1). */
function text(seed: number, size: number): Buffer {
  const words = ["container", "runtime", "layer", "kubelet", "sandbox", "overlay", "digest", "registry"];
  const parts: string[] = [];
  let n = 0;
  let x = seed;
  while (n < size) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = x % 13 === 0 ? `\n${x % 1000} INFO ` : `${words[x % words.length]}${x % 89} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join("").slice(0, size));
}

/** Writes `size` random bytes to `path` in 1 MiB chunks (never the whole file in memory). */
async function randomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  const chunk = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= chunk.length) {
    const b = randomFillSync(chunk).subarray(0, Math.min(left, chunk.length));
    if (!out.write(Buffer.from(b))) await once(out, "drain");
  }
  out.end();
  await finished(out);
}

async function buildTrees(root: string): Promise<string[]> {
  const dirs = [1, 2, 3, 4, 5].map((i) => join(root, `l${i}`));
  for (const d of dirs) await mkdir(d, { recursive: true });
  const [l1, l2, l3, l4, l5] = dirs as [string, string, string, string, string];

  // 1. base
  await mkdir(join(l1, "bin"));
  await mkdir(join(l1, "etc"));
  await mkdir(join(l1, "tmp"), { mode: 0o1777 });
  await copyFile("/bin/busybox", join(l1, "bin/busybox"));
  for (const a of ["sh", "ls", "cat", "echo", "sleep", "true", "false", "env", "mkdir", "rm", "cp", "mv"])
    await symlink("busybox", join(l1, "bin", a));
  await writeFile(
    join(l1, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
  );
  await writeFile(join(l1, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");

  // 2. many small files, in batches so creates overlap without opening 8 000 files at once
  const jobs: Array<() => Promise<void>> = [];
  for (let d = 0; d < 200; d++) {
    const dir = join(l2, "app/node_modules", `pkg${d}`, "lib");
    jobs.push(async () => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "..", "package.json"), `{"name":"pkg${d}","version":"1.0.${d}"}\n`);
      await symlink("lib/f0.js", join(dir, "..", "index.js"));
      for (let f = 0; f < 40; f++) {
        const size = 512 + (((d * 40 + f) * 2654435761) % (12 * 1024));
        const data = f % 4 === 3 ? randomBytes(size) : text(d * 1000 + f, size);
        await writeFile(join(dir, `f${f}.${f % 4 === 3 ? "node" : "js"}`), data);
      }
    });
  }
  for (let i = 0; i < jobs.length; i += 16) await Promise.all(jobs.slice(i, i + 16).map((j) => j()));

  // 3. big incompressible files
  await mkdir(join(l3, "models"));
  await randomFile(join(l3, "models/weights.bin"), 100 << 20);
  await randomFile(join(l3, "models/embeddings.bin"), 50 << 20);
  await randomFile(join(l3, "models/vocab.bin"), 30 << 20);

  // 4. compressible text
  await mkdir(join(l4, "var/log/app"), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(l4, `var/log/app/app${i}.log`), text(7_000 + i, 1 << 20));

  // 5. mixed, with links and a whiteout over layer 2
  await mkdir(join(l5, "data/small"), { recursive: true });
  await writeFile(join(l5, "data/blob.b64"), randomBytes(22_500_000).toString("base64"));
  await link(join(l5, "data/blob.b64"), join(l5, "data/blob.hard"));
  await symlink("blob.b64", join(l5, "data/blob.link"));
  for (let i = 0; i < 500; i++) await writeFile(join(l5, `data/small/s${i}.txt`), text(90_000 + i, 2048));
  await mkdir(join(l5, "app/node_modules/pkg0/lib"), { recursive: true });
  await writeFile(join(l5, "app/node_modules/pkg0/lib/.wh.f1.js"), "");
  return dirs;
}

interface Blob {
  digest: string;
  size: number;
}

/** A Transform that hashes and counts what flows through it. */
function tap(): Transform & { result(): Blob } {
  const h = createHash("sha256");
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return Object.assign(t, { result: () => ({ digest: `sha256:${h.digest("hex")}`, size }) });
}

/** Tars `dir` (reproducible: sorted, root-owned, fixed mtime), gzips it into the layout's blobs. */
async function tarLayer(dir: string, blobs: string): Promise<Blob & { diffId: string }> {
  const tar = spawn(
    "tar",
    [
      "-C",
      dir,
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mtime=@1700000000",
      "-cf",
      "-",
      ".",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<number | null>((r) => tar.on("close", r));
  const raw = tap();
  const gz = tap();
  const tmp = join(blobs, `tmp-${randomBytes(6).toString("hex")}`);
  await pipeline(tar.stdout, raw, createGzip({ level: 6 }), gz, createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new Error(`tar -C ${dir} exited ${code}`);
  const blob = gz.result();
  await rename(tmp, join(blobs, blob.digest.slice(7)));
  return { ...blob, diffId: raw.result().digest };
}

async function writeBlob(blobs: string, data: Buffer): Promise<Blob> {
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  await writeFile(join(blobs, digest.slice(7)), data);
  return { digest, size: data.length };
}

async function registryHas(registry: string): Promise<boolean> {
  let res: Response;
  try {
    res = await fetch(`http://${registry}/v2/${BIG_IMAGE_REPOSITORY}/manifests/${BIG_IMAGE_TAG}`, {
      method: "HEAD",
      headers: { accept: `${OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json` },
    });
  } catch (err) {
    throw new Error(
      `registry ${registry} is not reachable (${(err as Error).message}); start the kit first: ../shared/conformance/up.sh`,
    );
  }
  return res.status === 200;
}

/**
 * Makes sure the registry holds the big bench image, building and pushing it when it does not
 * (~15 s on 2 cores; skipped when `servin-bench/big:1` is already there), and returns its reference.
 *
 * @example
 * const ref = await ensureBigImage(); // "127.0.0.1:5000/servin-bench/big:1"
 * await sh(crictl, ["--image-endpoint", endpoint, "pull", ref]);
 */
export async function ensureBigImage(registry = "127.0.0.1:5000"): Promise<string> {
  const ref = `${registry}/${BIG_IMAGE_REPOSITORY}:${BIG_IMAGE_TAG}`;
  if (await registryHas(registry)) return ref;
  const tmp = await mkdtemp(join(tmpdir(), "servin-big-image-"));
  try {
    const dirs = await buildTrees(join(tmp, "trees"));
    const layout = join(tmp, "layout");
    const blobs = join(layout, "blobs/sha256");
    await mkdir(blobs, { recursive: true });
    // Each layer gzips on the libuv pool: two at a time keeps both cores busy.
    const layers: Array<Blob & { diffId: string }> = new Array(dirs.length);
    for (let i = 0; i < dirs.length; i += 2)
      await Promise.all(
        dirs.slice(i, i + 2).map(async (d, j) => {
          layers[i + j] = await tarLayer(d, blobs);
        }),
      );
    await rm(join(tmp, "trees"), { recursive: true, force: true });
    const config = await writeBlob(
      blobs,
      Buffer.from(
        JSON.stringify({
          created: "2024-01-01T00:00:00Z",
          architecture: "amd64",
          os: "linux",
          config: {
            Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            Cmd: ["/bin/sh"],
          },
          rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
          history: layers.map((_, i) => ({
            created: "2024-01-01T00:00:00Z",
            created_by: `servin bench layer ${i}`,
          })),
        }),
      ),
    );
    const manifest = await writeBlob(
      blobs,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, ...config },
          layers: layers.map((l) => ({ mediaType: OCI_GZIP, digest: l.digest, size: l.size })),
        }),
      ),
    );
    await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await writeFile(
      join(layout, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          {
            mediaType: OCI_MANIFEST,
            ...manifest,
            annotations: { "org.opencontainers.image.ref.name": BIG_IMAGE_TAG },
          },
        ],
      }),
    );
    const args = ["copy", "-q", "--preserve-digests", "--dest-tls-verify=false"];
    args.push(`oci:${layout}:${BIG_IMAGE_TAG}`, `docker://${ref}`);
    try {
      await run("skopeo", args, { maxBuffer: 1 << 24 });
    } catch (err) {
      throw new Error(`skopeo ${args.join(" ")} failed: ${(err as { stderr?: string }).stderr ?? err}`);
    }
    return ref;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

// `node --import tsx bench/lib/big-image.ts [REGISTRY]` builds and pushes it by itself.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = performance.now();
  const ref = await ensureBigImage(process.argv[2]);
  process.stdout.write(`${ref} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
}
