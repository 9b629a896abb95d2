/** A tar writer for test layers: ustar + pax, optional GNU long names, and raw names for hostile archives. */

export interface TarSpec {
  path: string;
  type: "file" | "dir" | "symlink" | "link" | "char" | "block" | "fifo";
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; default 1 700 000 000. */
  mtime?: number;
  data?: Buffer | string;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Record<string, string>;
  /** Long names as GNU `L` entries instead of pax. */
  gnuLongName?: boolean;
}

export const DEFAULT_MTIME = 1_700_000_000;
const FLAGS = { file: "0", link: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" } as const;

function octal(h: Buffer, off: number, len: number, v: number): void {
  h.write(`${v.toString(8).padStart(len - 1, "0")}\0`, off, len, "latin1");
}

function block(name: string, flag: string, size: number, e: Partial<TarSpec>, gnu = false): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  octal(h, 100, 8, e.mode ?? 0o644);
  octal(h, 108, 8, e.uid ?? 0);
  octal(h, 116, 8, e.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, e.mtime ?? DEFAULT_MTIME);
  h.write("        ", 148, 8, "latin1");
  h.write(flag, 156, 1, "latin1");
  h.write(e.linkname ?? "", 157, 100, "utf8");
  h.write(gnu ? "ustar  \0" : "ustar\u000000", 257, 8, "latin1");
  octal(h, 329, 8, e.devmajor ?? 0);
  octal(h, 337, 8, e.devminor ?? 0);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len++;
  return `${len}${body}`;
}

/** Builds a whole tar archive in memory (test layers are small). Paths are written exactly as given. */
export function buildTar(entries: TarSpec[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === "file" ? Buffer.from(e.data ?? "") : Buffer.alloc(0);
    let name = e.path;
    const longName = Buffer.byteLength(name) > 100;
    const longLink = Buffer.byteLength(e.linkname ?? "") > 100;
    let pax = "";
    if (e.gnuLongName && (longName || longLink)) {
      if (longName) {
        const n = Buffer.from(`${name}\0`);
        out.push(block("././@LongLink", "L", n.length, {}, true), n, pad(n.length));
        name = name.slice(0, 100);
      }
      if (longLink) {
        const n = Buffer.from(`${e.linkname}\0`);
        out.push(block("././@LongLink", "K", n.length, {}, true), n, pad(n.length));
      }
    } else {
      if (longName) pax += paxRecord("path", name);
      if (longLink) pax += paxRecord("linkpath", e.linkname!);
    }
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax += paxRecord(`SCHILY.xattr.${k}`, v);
    if (pax) {
      const p = Buffer.from(pax);
      out.push(block("PaxHeader", "x", p.length, {}), p, pad(p.length));
    }
    const mode = e.mode ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644);
    out.push(
      block(
        name.slice(0, 100),
        FLAGS[e.type],
        data.length,
        { ...e, mode, linkname: (e.linkname ?? "").slice(0, 100) },
        !!e.gnuLongName,
      ),
      data,
      pad(data.length),
    );
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}
