/**
 * Who owns the client end of a loopback TCP connection, from the kernel's socket tables
 * (`/proc/net/tcp`, `/proc/net/tcp6`), and the admission rule built on it: root, or a configured
 * uid or group. This gives TCP the check a 0660 root-owned unix socket gets from file permissions.
 */
import { readFile } from "node:fs/promises";
import { endianness } from "node:os";
import type { TcpPeer } from "@servin/cri-http";

/** One row of /proc/net/tcp{,6}. Addresses are canonical (see `canonicalAddress`). */
export interface ProcSocket {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Hex state code, e.g. "01" ESTABLISHED, "0A" LISTEN. */
  state: string;
  /** The effective uid of the process that created the socket. */
  uid: number;
}

/**
 * Decodes a /proc/net address ("0100007F" or 32 hex digits): the kernel prints each 32-bit word
 * of the address in host byte order, so on little-endian machines every 4-byte group is reversed.
 */
export function decodeProcAddress(hex: string, order: "LE" | "BE" = endianness()): string {
  if (!/^[0-9A-Fa-f]+$/.test(hex) || (hex.length !== 8 && hex.length !== 32))
    throw new Error(`proc address "${hex}": expected 8 or 32 hex digits`);
  const bytes = Buffer.alloc(hex.length / 2);
  for (let word = 0; word < hex.length / 8; word++) {
    const value = Number.parseInt(hex.slice(word * 8, word * 8 + 8), 16);
    if (order === "LE") bytes.writeUInt32LE(value, word * 4);
    else bytes.writeUInt32BE(value, word * 4);
  }
  return bytes.length === 4 ? [...bytes].join(".") : canonicalFromBytes(bytes);
}

function canonicalFromBytes(b: Buffer): string {
  // IPv4-mapped IPv6 (::ffff:a.b.c.d) is the IPv4 peer of a dual-stack socket: compare it as IPv4.
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff)
    return [...b.subarray(12)].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(":");
}

/**
 * One spelling per address, so Node's and the kernel's can be compared: IPv4 as dotted quad (also
 * for `::ffff:127.0.0.1`), IPv6 as eight unabbreviated lowercase groups without leading zeros.
 */
export function canonicalAddress(address: string): string {
  const a = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (/^\d+\.\d+\.\d+\.\d+$/.test(a)) return a;
  const bytes = Buffer.alloc(16);
  let text = a.toLowerCase();
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    tail = v4[1]!.split(".").map(Number);
    text = `${text.slice(0, -v4[1]!.length)}0:0`;
  }
  const [head = "", rest] = text.split("::") as [string, string | undefined];
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups =
    rest === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff))
    throw new Error(`address "${address}": not an IP address`);
  for (const [i, g] of groups.entries()) bytes.writeUInt16BE(g, i * 2);
  for (const [i, x] of tail.entries()) bytes[12 + i] = x;
  return canonicalFromBytes(bytes);
}

/** Parses the text of /proc/net/tcp or /proc/net/tcp6 (header line first); malformed rows are skipped. */
export function parseProcNetTcp(text: string, order: "LE" | "BE" = endianness()): ProcSocket[] {
  const out: ProcSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid …
    if (f.length < 8) continue;
    const local = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(f[1]!);
    const remote = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(f[2]!);
    const uid = Number(f[7]);
    if (!local || !remote || !Number.isInteger(uid)) continue;
    try {
      out.push({
        localAddress: decodeProcAddress(local[1]!, order),
        localPort: Number.parseInt(local[2]!, 16),
        remoteAddress: decodeProcAddress(remote[1]!, order),
        remotePort: Number.parseInt(remote[2]!, 16),
        state: f[3]!.toUpperCase(),
        uid,
      });
    } catch {}
  }
  return out;
}

/**
 * The uid owning the client's socket: the row whose local end is the peer's end and whose remote
 * end is ours. Our own accepted socket (local = our end) never matches, nor does a listener.
 */
export function findPeerUid(peer: TcpPeer, sockets: Iterable<ProcSocket>): number | undefined {
  const clientAddress = canonicalAddress(peer.remoteAddress);
  const serverAddress = canonicalAddress(peer.localAddress);
  for (const s of sockets) {
    if (s.state === "0A") continue;
    if (
      s.localPort === peer.remotePort &&
      s.remotePort === peer.localPort &&
      s.localAddress === clientAddress &&
      s.remoteAddress === serverAddress
    )
      return s.uid;
  }
  return undefined;
}

/** Reads the kernel's tables (this network namespace's) and finds the peer's uid; undefined when absent. */
export async function lookupPeerUid(peer: TcpPeer, procNet = "/proc/net"): Promise<number | undefined> {
  const tables = await Promise.all(
    ["tcp", "tcp6"].map((name) => readFile(`${procNet}/${name}`, "utf8").catch(() => "")),
  );
  // Only rows naming the client's port can match: skip decoding the rest (busy hosts list thousands).
  const port = `:${peer.remotePort.toString(16).toUpperCase().padStart(4, "0")} `;
  const rows = tables.flatMap((t) => {
    const lines = t.split("\n");
    return parseProcNetTcp([lines[0], ...lines.slice(1).filter((l) => l.includes(port))].join("\n"));
  });
  return findPeerUid(peer, rows);
}

/** The groups of a uid: its primary gid from passwd plus the groups listing its name in group. */
export function groupsOfUid(uid: number, passwd: string, group: string): number[] {
  const gids = new Set<number>();
  const names = new Set<string>();
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || Number(f[2]) !== uid || f[2] === "") continue;
    names.add(f[0]!);
    const gid = Number(f[3]);
    if (f[3] !== "" && Number.isInteger(gid)) gids.add(gid);
  }
  for (const line of group.split("\n")) {
    const f = line.split(":");
    if (f.length < 4 || f[2] === "") continue;
    const gid = Number(f[2]);
    if (Number.isInteger(gid) && f[3]!.split(",").some((m) => names.has(m.trim()))) gids.add(gid);
  }
  return [...gids];
}

export interface PeerAdmissionOptions {
  /** Uids admitted besides root. */
  allowedUids?: number[];
  /** Groups whose members (primary or supplementary, per /etc/passwd and /etc/group) are admitted. */
  allowedGids?: number[];
  /** For tests: where the tables live (default /proc/net, /etc/passwd, /etc/group). */
  procNet?: string;
  passwdFile?: string;
  groupFile?: string;
  /** Called with each decision, e.g. for a debug log. */
  onDecision?: (peer: TcpPeer, uid: number | undefined, admitted: boolean) => void;
}

/**
 * The `trustPeer` of servin's TCP listeners: admits root and the configured uids and groups; a peer
 * not found in the kernel's tables (another network namespace, already gone) is denied.
 *
 * @example
 * const trustPeer = createPeerAdmission({ allowedGids: [1001] });
 * createCriApp({ runtime, images, trustPeer });
 */
export function createPeerAdmission(opts: PeerAdmissionOptions = {}): (peer: TcpPeer) => Promise<boolean> {
  const uids = new Set(opts.allowedUids ?? []);
  const allowedGids = new Set(opts.allowedGids ?? []);
  return async (peer) => {
    const uid = await lookupPeerUid(peer, opts.procNet);
    let admitted = uid !== undefined && (uid === 0 || uids.has(uid));
    if (!admitted && uid !== undefined && allowedGids.size > 0) {
      // Read afresh per connection: a user removed from a group loses access without a restart.
      const [passwd, group] = await Promise.all([
        readFile(opts.passwdFile ?? "/etc/passwd", "utf8").catch(() => ""),
        readFile(opts.groupFile ?? "/etc/group", "utf8").catch(() => ""),
      ]);
      admitted = groupsOfUid(uid, passwd, group).some((g) => allowedGids.has(g));
    }
    opts.onDecision?.(peer, uid, admitted);
    return admitted;
  };
}

/** True for hosts only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  if (h === "localhost") return true;
  try {
    const a = canonicalAddress(h);
    return a.startsWith("127.") || a === "0:0:0:0:0:0:0:1";
  } catch {
    return false;
  }
}

/** The host of "host:port" / "[v6]:port". */
export function hostOfHostPort(address: string): string {
  return address.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
}
