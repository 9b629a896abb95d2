/** A small ustar + pax tar writer, for exports and for the special files an unpack hands to GNU tar. */

export interface TarWriteEntry {
  name: string;
  type: "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  size?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
}

const FLAGS = { file: "0", link: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" } as const;

function octal(buf: Buffer, off: number, len: number, value: number): void {
  buf.write(`${value.toString(8).padStart(len - 1, "0")}\0`, off, len, "latin1");
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

function header(e: TarWriteEntry & { flag: string; size: number }): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name.slice(0, 100), 0, 100, "utf8");
  octal(h, 100, 8, e.mode ?? (e.type === "dir" ? 0o755 : 0o644));
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, e.size);
  octal(h, 136, 12, Math.floor(e.mtime ?? 0));
  h.write("        ", 148, 8, "latin1");
  h.write(e.flag, 156, 1, "latin1");
  h.write((e.linkname ?? "").slice(0, 100), 157, 100, "utf8");
  h.write("ustar\u000000", 257, 8, "latin1");
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

/** The header block(s) of one entry: a pax header first when names, sizes or xattrs need it. */
export function tarHeader(e: TarWriteEntry): Buffer {
  const size = e.type === "file" ? (e.size ?? 0) : 0;
  let pax = "";
  if (Buffer.byteLength(e.name) > 100) pax += paxRecord("path", e.name);
  if (e.linkname && Buffer.byteLength(e.linkname) > 100) pax += paxRecord("linkpath", e.linkname);
  if (size > 0o77777777777) pax += paxRecord("size", String(size));
  for (const [k, v] of Object.entries(e.xattrs ?? {})) pax += paxRecord(`SCHILY.xattr.${k}`, v);
  const main = header({ ...e, flag: FLAGS[e.type], size });
  if (!pax) return main;
  const data = Buffer.from(pax, "utf8");
  const ph = header({ name: "PaxHeader", type: "file", flag: "x", size: data.length, mode: 0o644 });
  return Buffer.concat([ph, data, Buffer.alloc(padding(data.length)), main]);
}

export function padding(size: number): number {
  return (512 - (size % 512)) % 512;
}

export const TAR_END = Buffer.alloc(1024);
