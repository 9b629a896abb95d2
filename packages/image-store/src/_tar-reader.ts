/**
 * A streaming tar reader for untrusted layers: ustar, pax (`x`/`g`) and GNU
 * long names (`L`/`K`). Every size is capped and every header checksummed;
 * anything it does not understand is an error, never a guess.
 */
import type { ByteReader } from "./_bytes.js";

export type TarEntryType = "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";

export interface TarEntry {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (fractional with pax). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** `SCHILY.xattr.*` pax records, name → value. */
  xattrs: Record<string, string>;
}

export class TarFormatError extends Error {}

const BLOCK = 512;
const MAX_META = 1024 * 1024; // pax headers and GNU long names

function cstring(buf: Buffer, off: number, len: number): string {
  const field = buf.subarray(off, off + len);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

function numeric(buf: Buffer, off: number, len: number, what: string): number {
  const field = buf.subarray(off, off + len);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as the marker.
    if (field[0] === 0xff) throw new TarFormatError(`tar header: negative ${what}`);
    let v = field[0]! & 0x7f;
    for (let i = 1; i < len; i++) {
      v = v * 256 + field[i]!;
      if (v > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`tar header: ${what} too large`);
    }
    return v;
  }
  const s = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TarFormatError(`tar header: ${what} is not octal (${JSON.stringify(s)})`);
  return Number.parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = numeric(h, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Parses pax records `"<len> key=value\n"`, checking each length. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) throw new TarFormatError("pax header: malformed record");
    const len = Number(data.subarray(off, space).toString("latin1"));
    if (
      !Number.isInteger(len) ||
      len <= space - off + 1 ||
      off + len > data.length ||
      data[off + len - 1] !== 0x0a
    ) {
      throw new TarFormatError("pax header: bad record length");
    }
    const rec = data.subarray(space + 1, off + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq <= 0) throw new TarFormatError("pax header: record without key");
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

function paxNumber(v: string, what: string): number {
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(v)) throw new TarFormatError(`pax header: ${what} is not a number`);
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER)
    throw new TarFormatError(`pax header: ${what} out of range`);
  return n;
}

/**
 * Reads entries one by one. The caller must consume `body` (or not touch it)
 * before asking for the next entry; an unread body is skipped.
 */
export async function* readTar(
  reader: ByteReader,
): AsyncGenerator<{ entry: TarEntry; body: AsyncIterable<Buffer> }> {
  let global: Record<string, string> = {};
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await reader.read(BLOCK);
    if (h.length === 0) return; // tolerate archives without the end-of-archive blocks
    if (h.length < BLOCK) throw new TarFormatError("truncated tar header");
    if (h.every((b) => b === 0)) return;
    if (!checksumOk(h)) throw new TarFormatError("tar header checksum mismatch");

    const flag = String.fromCharCode(h[156]!);
    let size = numeric(h, 124, 12, "size");
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > MAX_META)
        throw new TarFormatError(`tar metadata entry of ${size} bytes exceeds the ${MAX_META}-byte cap`);
      const data = await reader.read(padded);
      if (data.length < padded) throw new TarFormatError("truncated tar metadata entry");
      const content = data.subarray(0, size);
      if (flag === "x") pax = { ...pax, ...parsePax(content) };
      else if (flag === "g") global = { ...global, ...parsePax(content) };
      else {
        const s = cstring(content, 0, content.length);
        if (flag === "L") longName = s;
        else longLink = s;
      }
      continue;
    }

    const type = TYPES[flag];
    if (!type) throw new TarFormatError(`unsupported tar entry type ${JSON.stringify(flag)}`);
    const magic = h.subarray(257, 263).toString("latin1");
    let name = cstring(h, 0, 100);
    // POSIX ustar splits long names into prefix + name; GNU uses those bytes for times.
    if (magic === "ustar\0") {
      const prefix = cstring(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const meta = { ...global, ...pax };
    if (longName !== undefined) name = longName;
    if (meta.path !== undefined) name = meta.path;
    let linkname = longLink ?? cstring(h, 157, 100);
    if (meta.linkpath !== undefined) linkname = meta.linkpath;
    if (meta.size !== undefined) size = paxNumber(meta.size, "size");
    const xattrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(meta)) if (k.startsWith("SCHILY.xattr.")) xattrs[k.slice(13)] = v;

    const entry: TarEntry = {
      name,
      type,
      mode: numeric(h, 100, 8, "mode") & 0o7777,
      uid: meta.uid !== undefined ? paxNumber(meta.uid, "uid") : numeric(h, 108, 8, "uid"),
      gid: meta.gid !== undefined ? paxNumber(meta.gid, "gid") : numeric(h, 116, 8, "gid"),
      size: type === "file" ? size : 0,
      mtime: meta.mtime !== undefined ? paxNumber(meta.mtime, "mtime") : numeric(h, 136, 12, "mtime"),
      linkname,
      devmajor: type === "char" || type === "block" ? numeric(h, 329, 8, "devmajor") : 0,
      devminor: type === "char" || type === "block" ? numeric(h, 337, 8, "devminor") : 0,
      xattrs,
    };
    pax = {};
    longName = undefined;
    longLink = undefined;

    // Hard links and others may carry a size in odd archives; only files have bodies we hand out.
    const bodySize = type === "file" ? entry.size : size;
    const bodyPadded = Math.ceil(bodySize / BLOCK) * BLOCK;
    let consumed = 0;
    const body = (async function* () {
      for await (const chunk of reader.stream(bodySize)) {
        consumed += chunk.length;
        yield chunk;
      }
    })();
    yield { entry, body: type === "file" ? body : (async function* () {})() };
    if (consumed < bodySize) {
      try {
        await reader.skip(bodySize - consumed);
      } catch {
        throw new TarFormatError(`truncated tar entry "${entry.name}"`);
      }
    }
    if (bodyPadded > bodySize) {
      const pad = await reader.read(bodyPadded - bodySize);
      if (pad.length < bodyPadded - bodySize) throw new TarFormatError(`truncated tar entry "${entry.name}"`);
    }
  }
}
