/**
 * Safe layer unpack into a fresh snapshot directory. The layer is untrusted:
 * every path is cleaned and checked component by component, nothing is ever
 * written through a symlink, hard links stay inside the snapshot, sizes and
 * entry counts are capped, and the diffID is verified over the whole stream.
 * OCI whiteouts become overlayfs whiteouts (char 0:0, `trusted.overlay.opaque`)
 * when running as root, else stay AUFS-style `.wh.` marker files.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  type Stats,
  unlinkSync,
  writeSync,
} from "node:fs";
import { chmod, chown, lchown, lutimes, mkdir, open, rm, symlink, utimes } from "node:fs/promises";
import { join, posix } from "node:path";
import { ByteReader, ownBytes } from "./_bytes.js";
import { decompress } from "./_decompress.js";
import { readTar, type TarEntry } from "./_tar-reader.js";
import { TAR_END, type TarWriteEntry, tarHeader } from "./_tar-writer.js";

export class UnpackError extends Error {}

export interface UnpackOptions {
  /** The layer blob as stored (compressed or not). */
  source: AsyncIterable<Uint8Array>;
  /** Directory to build the snapshot in; created here, removed by the caller on failure. */
  dir: string;
  expectedDiffId: string;
  maxBytes: number;
  /** Where `maxBytes` comes from, for the error when a layer exceeds it. */
  maxBytesNote?: string;
  maxEntries: number;
  /** Root: create device nodes and overlay whiteouts, keep ownership. */
  privileged: boolean;
  onBytes?: (uncompressed: number) => void;
  /**
   * Write files with synchronous calls (one syscall each, no thread-pool round trip, no promise per
   * file): for an unpack on a worker thread of its own, where blocking blocks nobody else.
   */
  syncFiles?: boolean;
  /** `dir` was made by the caller (empty, 0755) rather than here. */
  dirMade?: boolean;
}

export interface UnpackResult {
  diffId: string;
  size: number;
  entries: number;
  whiteoutFormat: "overlay" | "aufs";
  /** Opaque directories (relative paths), also marked with the overlay xattr when privileged. */
  opaque: string[];
  /** Entries not materialised (device nodes without root, xattrs on files). */
  skipped: string[];
}

const OPAQUE = ".wh..wh..opq";
/** Files up to this size are read whole and written in the background (the bulk of a layer). */
const SMALL_FILE = 4 << 20;
const MAX_PENDING = 32;
/** Bytes of file bodies held for background writes, per layer: what bounds the unpack's memory. */
const MAX_PENDING_BYTES = 16 << 20;
/** Read once: bits the umask removes from new files must be restored with chmod. */
const UMASK = process.umask();
const WH = ".wh.";

/** Cleans a tar path to a relative POSIX path ("" = the layer root), or throws. */
export function cleanEntryPath(name: string, what = "entry"): string {
  if (name.includes("\0")) throw new UnpackError(`${what} ${JSON.stringify(name)}: NUL byte in path`);
  if (name.startsWith("/"))
    throw new UnpackError(`${what} ${JSON.stringify(name)}: absolute paths are not allowed`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UnpackError(`${what} ${JSON.stringify(name)}: ".." is not allowed`);
  return parts.join("/");
}

class SnapshotBuilder {
  private readonly knownDirs = new Set<string>([""]);
  /**
   * Every non-directory path this layer created (never shrunk but by unlink): the snapshot starts
   * empty and only this builder writes into it, so a path in neither set does not exist and needs
   * no lstat (a synchronous syscall per entry, the main thread's largest cost on a layer of many
   * small files).
   */
  private readonly created = new Set<string>();
  private readonly dirMeta = new Map<string, TarEntry>();
  readonly specials: TarWriteEntry[] = [];
  readonly opaque = new Set<string>();
  readonly skipped: string[] = [];
  /** Device nodes and FIFOs not created (not root): hard links to them are skipped too. */
  private readonly skippedSpecials = new Set<string>();
  /** File and symlink creations in flight: creates are slow on some filesystems, so several run at once. */
  private readonly pending = new Set<Promise<void>>();
  private readonly pendingPaths = new Set<string>();
  private pendingBytes = 0;
  private failure: unknown;

  constructor(
    private readonly root: string,
    private readonly privileged: boolean,
    private readonly syncFiles = false,
  ) {}

  private abs(rel: string): string {
    return rel === "" ? this.root : join(this.root, rel);
  }

  /**
   * Runs a create in the background, at most MAX_PENDING at once holding at most MAX_PENDING_BYTES
   * of file data; its path is busy until it ends.
   */
  private async background(rel: string, fn: () => Promise<void>, bytes = 0): Promise<void> {
    this.pendingPaths.add(rel);
    this.pendingBytes += bytes;
    const p: Promise<void> = fn()
      .catch((err) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.pending.delete(p);
        this.pendingPaths.delete(rel);
        this.pendingBytes -= bytes;
      });
    this.pending.add(p);
    while (
      this.pending.size > 0 &&
      (this.pending.size >= MAX_PENDING || this.pendingBytes > MAX_PENDING_BYTES)
    )
      await Promise.race(this.pending);
    if (this.failure) throw this.failure;
  }

  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled(this.pending);
  }

  /** Waits for every background create (before anything that could depend on one). */
  async barrier(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
    if (this.failure) throw this.failure;
  }

  /** Makes sure every ancestor of `rel` is a real directory inside the snapshot (creating missing ones). */
  private async ensureDir(rel: string, create: boolean, entry: string): Promise<void> {
    if (this.knownDirs.has(rel)) return;
    const parts = rel.split("/");
    let cur = "";
    for (const part of parts) {
      cur = cur === "" ? part : `${cur}/${part}`;
      if (this.knownDirs.has(cur)) continue;
      if (this.pendingPaths.has(cur)) await this.barrier();
      const st = this.created.has(cur) ? lstatSync(this.abs(cur), { throwIfNoEntry: false }) : undefined;
      if (!st) {
        if (!create) throw new UnpackError(`${entry}: "${cur}" does not exist in this layer`);
        mkdirSync(this.abs(cur), { mode: 0o755 });
      } else if (st.isSymbolicLink()) {
        throw new UnpackError(`${entry}: path goes through symlink "${cur}"`);
      } else if (!st.isDirectory()) {
        throw new UnpackError(`${entry}: "${cur}" is not a directory`);
      }
      this.knownDirs.add(cur);
    }
  }

  private async ensureParent(rel: string, entry: string): Promise<void> {
    const parent = posix.dirname(rel);
    await this.ensureDir(parent === "." ? "" : parent, true, entry);
  }

  /**
   * Forgets the special files recorded at paths that are `gone`. Hard links
   * recorded to a forgotten node keep it, as a link keeps its inode: the first
   * of them becomes the node, the others link to that one.
   */
  private dropSpecials(gone: (name: string) => boolean): void {
    if (!this.specials.some((x) => gone(x.name))) return;
    const kept: TarWriteEntry[] = [];
    const removed = new Map<string, TarWriteEntry>();
    const heirs = new Map<string, string>();
    for (const sp of this.specials) {
      const node = sp.type === "link" && sp.linkname !== undefined ? removed.get(sp.linkname) : undefined;
      if (node && sp.linkname !== undefined) {
        if (gone(sp.name)) continue;
        const heir = heirs.get(sp.linkname);
        if (heir === undefined) {
          heirs.set(sp.linkname, sp.name);
          kept.push({ ...node, name: sp.name });
        } else kept.push({ ...sp, linkname: heir });
      } else if (gone(sp.name)) {
        if (sp.type !== "link") removed.set(sp.name, sp);
      } else kept.push(sp);
    }
    this.specials.splice(0, this.specials.length, ...kept);
  }

  /** Removes whatever is at `rel` (never following a symlink), unless it is a dir and `keepDir`. */
  private async clear(rel: string, keepDir: boolean): Promise<boolean> {
    // A later entry at the same path wins over a whiteout or device recorded earlier.
    this.dropSpecials((name) => name === rel);
    this.skippedSpecials.delete(rel);
    const st =
      this.created.has(rel) || this.knownDirs.has(rel)
        ? lstatSync(this.abs(rel), { throwIfNoEntry: false })
        : undefined;
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDir) return true;
      await this.barrier(); // background creates may be writing inside it
      await rm(this.abs(rel), { recursive: true, force: true });
      const under = (d: string) => d === rel || d.startsWith(`${rel}/`);
      for (const d of [...this.knownDirs]) if (under(d)) this.knownDirs.delete(d);
      for (const d of [...this.dirMeta.keys()]) if (under(d)) this.dirMeta.delete(d);
      // Special files recorded under the removed directory must not be created
      // later: the path may be a symlink by then (GNU tar would follow it).
      for (const d of [...this.opaque]) if (under(d)) this.opaque.delete(d);
      this.dropSpecials(under);
      for (const d of [...this.skippedSpecials]) if (under(d)) this.skippedSpecials.delete(d);
    } else {
      unlinkSync(this.abs(rel));
      this.created.delete(rel);
    }
    return false;
  }

  async apply(e: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const rel = cleanEntryPath(e.name);
    const label = `entry ${JSON.stringify(e.name)}`;
    const base = posix.basename(rel);
    // Only plain creates of new files, symlinks and dirs may overtake background work.
    const simple = (e.type === "file" || e.type === "symlink" || e.type === "dir") && !base.startsWith(WH);
    if (!simple || this.pendingPaths.has(rel)) await this.barrier();

    if (base === OPAQUE) {
      const parent = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
      await this.ensureDir(parent, true, label);
      this.opaque.add(parent);
      if (!this.privileged) await this.writeFile(rel, e, (async function* () {})());
      return;
    }
    if (base.startsWith(WH) && rel !== "") {
      const victim = base.slice(WH.length);
      if (victim === "" || victim === "." || victim === "..")
        throw new UnpackError(`${label}: invalid whiteout`);
      const parent = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
      const target = parent === "" ? victim : `${parent}/${victim}`;
      await this.ensureParent(target, label);
      await this.clear(target, false);
      if (this.privileged) {
        this.specials.push({ name: target, type: "char", mode: 0, devmajor: 0, devminor: 0, mtime: e.mtime });
      } else {
        await this.writeFile(rel, e, (async function* () {})());
      }
      return;
    }

    if (rel === "") {
      if (e.type !== "dir") throw new UnpackError(`${label}: the layer root must be a directory`);
      this.dirMeta.set("", e);
      return;
    }
    await this.ensureParent(rel, label);

    switch (e.type) {
      case "dir": {
        const isDir = await this.clear(rel, true);
        if (!isDir) mkdirSync(this.abs(rel), { mode: 0o755 });
        this.knownDirs.add(rel);
        this.dirMeta.set(rel, e);
        if (Object.keys(e.xattrs).length > 0)
          this.skipped.push(`${rel}: xattrs ${Object.keys(e.xattrs).join(",")}`);
        return;
      }
      case "file":
        await this.clear(rel, false);
        await this.writeFile(rel, e, body);
        if (Object.keys(e.xattrs).length > 0)
          this.skipped.push(`${rel}: xattrs ${Object.keys(e.xattrs).join(",")}`);
        return;
      case "symlink": {
        await this.clear(rel, false);
        const abs = this.abs(rel);
        this.created.add(rel);
        await this.background(rel, async () => {
          await symlink(e.linkname, abs);
          if (this.privileged && (e.uid !== 0 || e.gid !== 0)) await lchown(abs, e.uid, e.gid);
          await lutimes(abs, e.mtime, e.mtime);
        });
        return;
      }
      case "link": {
        const target = cleanEntryPath(e.linkname, `hard link ${JSON.stringify(e.name)} ->`);
        if (target === "") throw new UnpackError(`${label}: hard link to the layer root`);
        const parent = posix.dirname(target);
        await this.ensureDir(parent === "." ? "" : parent, false, `hard link ${JSON.stringify(e.name)}`);
        // Device nodes and FIFOs are made last, by GNU tar: a link to one goes
        // there too, after its target (never to a whiteout: that hides a path).
        const special = this.specials.find((x) => x.name === target);
        if (special && !(special.type === "char" && special.devmajor === 0 && special.mode === 0)) {
          if (target === rel) return;
          await this.clear(rel, false);
          this.specials.push({ name: rel, type: "link", linkname: target, mtime: e.mtime });
          return;
        }
        if (this.skippedSpecials.has(target)) {
          this.skipped.push(`${rel}: hard link to ${target} (needs root)`);
          return;
        }
        const st: Stats | undefined = lstatSync(this.abs(target), { throwIfNoEntry: false });
        if (!st) throw new UnpackError(`${label}: hard link target "${e.linkname}" is not in this layer`);
        if (st.isDirectory()) throw new UnpackError(`${label}: hard link to a directory`);
        if (target === rel) return;
        await this.clear(rel, false);
        linkSync(this.abs(target), this.abs(rel));
        this.created.add(rel);
        return;
      }
      default:
        // Device nodes and FIFOs: Node has no mknod, so they go to GNU tar with the whiteouts.
        if (this.privileged) {
          await this.clear(rel, false);
          this.specials.push({
            name: rel,
            type: e.type,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            mtime: e.mtime,
            devmajor: e.devmajor,
            devminor: e.devminor,
          });
        } else {
          this.skipped.push(`${rel}: ${e.type} device (needs root)`);
          this.skippedSpecials.add(rel);
        }
    }
  }

  private async writeFile(rel: string, e: TarEntry, body: AsyncIterable<Buffer>): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const abs = this.abs(rel);
    this.created.add(rel);
    // The file is created with its permission bits; chown and chmod run only
    // when they change something (each is a thread-pool round trip).
    const createMode = e.mode & 0o777;
    const chown = this.privileged && (e.uid !== 0 || e.gid !== 0);
    const chmod = (e.mode & 0o7000) !== 0 || (createMode & UMASK) !== 0;
    const finish = async (fh: Awaited<ReturnType<typeof open>>) => {
      // chown before chmod: chown clears setuid/setgid bits.
      if (chown) await fh.chown(e.uid, e.gid);
      if (chmod || chown) await fh.chmod(e.mode);
      await fh.utimes(e.mtime, e.mtime);
    };
    if (this.syncFiles) {
      const fd = openSync(abs, flags, createMode);
      try {
        for await (const chunk of body) {
          let off = 0;
          while (off < chunk.length) off += writeSync(fd, chunk, off);
        }
        if (chown) fchownSync(fd, e.uid, e.gid);
        if (chmod || chown) fchmodSync(fd, e.mode);
        futimesSync(fd, e.mtime, e.mtime);
      } finally {
        closeSync(fd);
      }
      return;
    }
    if (e.size <= SMALL_FILE) {
      // Small files (most of a layer) are read into memory and written in the
      // background, several at once: creating files is the slow part.
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      // While its create waits, the data must not hold zlib's 1 MiB output buffer, which the data budget
      // below does not count.
      const data = ownBytes(chunks);
      await this.background(
        rel,
        async () => {
          const fh = await open(abs, flags, createMode);
          try {
            let off = 0;
            while (off < data.length) off += (await fh.write(data, off)).bytesWritten;
            await finish(fh);
          } finally {
            await fh.close();
          }
        },
        data.length,
      );
      return;
    }
    const fh = await open(abs, flags, createMode);
    try {
      // Batch decompressed chunks into ~1 MiB writes.
      let batch: Buffer[] = [];
      let batched = 0;
      const flush = async () => {
        const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
        batch = [];
        batched = 0;
        let off = 0;
        while (off < data.length) off += (await fh.write(data, off)).bytesWritten;
      };
      for await (const chunk of body) {
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= 1 << 20) await flush();
      }
      if (batched > 0) await flush();
      await finish(fh);
    } finally {
      await fh.close();
    }
  }

  /** Creates the special files (whiteouts, devices, opaque markers) through GNU tar, then fixes directory metadata. */
  async finish(): Promise<void> {
    await this.barrier();
    const entries: TarWriteEntry[] = [];
    for (const dir of this.privileged ? this.opaque : []) {
      if (dir === "") continue; // an opaque layer root hides nothing overlay can express
      const m = this.dirMeta.get(dir);
      entries.push({
        name: `${dir}/`,
        type: "dir",
        mode: m?.mode ?? 0o755,
        uid: m?.uid ?? 0,
        gid: m?.gid ?? 0,
        mtime: m?.mtime ?? 0,
        xattrs: { "trusted.overlay.opaque": "y" },
      });
    }
    entries.push(...this.specials);
    // Belt and braces before handing paths to a tool that follows symlinks:
    // every parent must still be a real directory inside the snapshot.
    for (const e of entries) {
      let cur = this.root;
      for (const part of posix
        .dirname(e.name.replace(/\/$/, ""))
        .split("/")
        .filter((p) => p !== ".")) {
        cur = join(cur, part);
        const st = lstatSync(cur, { throwIfNoEntry: false });
        if (!st?.isDirectory())
          throw new UnpackError(
            `entry ${JSON.stringify(e.name)}: parent "${part}" changed type in this layer`,
          );
      }
    }
    if (entries.length > 0) await extractSpecials(this.root, entries);
    // Deepest first, so that setting a parent's mtime comes after its children changed it.
    const dirs = [...this.dirMeta.entries()].sort((a, b) => b[0].split("/").length - a[0].split("/").length);
    for (const [rel, e] of dirs) {
      const abs = this.abs(rel);
      if (this.privileged) await chown(abs, e.uid, e.gid);
      await chmod(abs, e.mode);
      await utimes(abs, e.mtime, e.mtime);
    }
  }
}

/** Runs GNU tar on a tar of entries we generated ourselves (already validated paths) to mknod and setxattr. */
function extractSpecials(root: string, entries: TarWriteEntry[]): Promise<void> {
  const parts: Buffer[] = [];
  for (const e of entries) parts.push(tarHeader(e));
  parts.push(TAR_END);
  const tarball = Buffer.concat(parts);
  return new Promise((resolve, reject) => {
    const child = spawn(
      "tar",
      [
        "-x",
        "-p",
        "--numeric-owner",
        "--xattrs",
        "--xattrs-include=trusted.overlay.*",
        "-C",
        root,
        "-f",
        "-",
      ],
      { stdio: ["pipe", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err) =>
      reject(new UnpackError(`creating whiteouts and device nodes: ${err.message}`)),
    );
    child.on("close", (code) => {
      if (code === 0) resolve();
      else
        reject(new UnpackError(`creating whiteouts and device nodes: tar exited ${code}: ${stderr.trim()}`));
    });
    child.stdin.on("error", () => {});
    child.stdin.end(tarball);
  });
}

/** Unpacks one layer blob into `opts.dir` (which must not exist yet). */
export async function unpackLayer(opts: UnpackOptions): Promise<UnpackResult> {
  if (!opts.dirMade) await mkdir(opts.dir, { mode: 0o755 });
  const builder = new SnapshotBuilder(opts.dir, opts.privileged, opts.syncFiles);
  const hash = createHash("sha256");
  let size = 0;
  const hashed = (async function* () {
    for await (const chunk of decompress(opts.source, opts.maxBytes, undefined, opts.maxBytesNote)) {
      hash.update(chunk);
      size += chunk.length;
      opts.onBytes?.(size);
      yield chunk;
    }
  })();
  const reader = new ByteReader(hashed);
  let entries = 0;
  try {
    for await (const { entry, body } of readTar(reader)) {
      if (++entries > opts.maxEntries)
        throw new UnpackError(`layer has more than ${opts.maxEntries} entries`);
      await builder.apply(entry, body);
    }
    await reader.drain();
    await builder.barrier();
  } catch (err) {
    // Let background creates end before the caller removes the directory under them.
    await builder.settle();
    throw err;
  }
  const diffId = `sha256:${hash.digest("hex")}`;
  if (diffId !== opts.expectedDiffId) {
    throw new UnpackError(
      `uncompressed digest ${diffId} does not match the config's diff_id ${opts.expectedDiffId}`,
    );
  }
  await builder.finish();
  return {
    diffId,
    size,
    entries,
    whiteoutFormat: opts.privileged ? "overlay" : "aufs",
    opaque: [...builder.opaque],
    skipped: builder.skipped,
  };
}
