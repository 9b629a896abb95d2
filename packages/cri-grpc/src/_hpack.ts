/**
 * HPACK (RFC 7541), as much as the authority rewrite needs: a complete decoder
 * (static and dynamic table, size updates, integer and string literals,
 * Huffman) and an encoder that uses only the static table and literals that
 * are never indexed, so the peer's dynamic table stays empty.
 */

/** A header field; `sensitive` is set for fields sent as "never indexed" (RFC 7541 §6.2.3). */
export interface HeaderField {
  name: string;
  value: string;
  sensitive?: boolean;
}

/** A malformed header block: a COMPRESSION_ERROR for the connection (RFC 7540 §4.3). */
export class HpackError extends Error {
  override name = "HpackError";
}

/** RFC 7541 Appendix A. Index 1 is STATIC_TABLE[0]. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/**
 * Code lengths of the HPACK Huffman code (RFC 7541 Appendix B), symbols 0–255
 * then EOS (256). The code is canonical: codes of one length are consecutive
 * in symbol order and follow the last code of the previous length, so the
 * lengths define every code (checked against the RFC's codes in the tests).
 */
// biome-ignore format: one row per 16 symbols, as in the RFC's table
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/**
 * The static table as decoded fields, one frozen object per entry: a decoded header list hands out the
 * same object for every indexed field instead of a new one per field per request.
 */
const STATIC_FIELDS: readonly Readonly<HeaderField>[] = STATIC_TABLE.map(([name, value]) =>
  Object.freeze({ name, value }),
);

/** The canonical codes derived from HUFFMAN_CODE_LENGTHS (EOS = 30 one-bits). */
export const HUFFMAN_CODES: readonly number[] = (() => {
  const symbols = HUFFMAN_CODE_LENGTHS.map((_, s) => s).sort(
    (a, b) => (HUFFMAN_CODE_LENGTHS[a] as number) - (HUFFMAN_CODE_LENGTHS[b] as number) || a - b,
  );
  const codes: number[] = new Array(symbols.length).fill(0);
  let code = -1;
  let prevLength = HUFFMAN_CODE_LENGTHS[symbols[0] as number] as number;
  for (const s of symbols) {
    const length = HUFFMAN_CODE_LENGTHS[s] as number;
    code = (code + 1) * 2 ** (length - prevLength);
    prevLength = length;
    codes[s] = code;
  }
  return codes;
})();

/**
 * The decoder walks the code tree a nibble at a time (as nghttp2 does): each
 * of the 256 inner nodes has 16 transitions, each emitting at most one symbol
 * (no code is shorter than 5 bits). Built on first use.
 */
interface HuffmanMachine {
  /** next state, per state * 16 + nibble; -1 = EOS decoded (an error). */
  next: Int16Array;
  /** emitted symbol per transition, or -1. */
  emit: Int16Array;
  /** States where the string may end: the root, or a path of 1 to 7 one-bits (the EOS prefix, RFC 7541 §5.2). */
  accepting: Uint8Array;
}

let machine: HuffmanMachine | undefined;

function huffmanMachine(): HuffmanMachine {
  if (machine) return machine;
  // Build the tree: node 0 is the root; children[node*2+bit]: >= 0 inner node, < 0 leaf -(symbol+1).
  const children: number[] = [0, 0];
  let nodes = 1;
  for (let s = 0; s <= EOS; s++) {
    const length = HUFFMAN_CODE_LENGTHS[s] as number;
    const code = HUFFMAN_CODES[s] as number;
    let node = 0;
    for (let i = length - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) {
        children[slot] = -(s + 1);
      } else {
        if (children[slot] === 0) {
          children[slot] = nodes++;
          children.push(0, 0);
        }
        node = children[slot] as number;
      }
    }
  }
  // The path of one-bits from the root: depth per inner node on it.
  const onesDepth = new Int8Array(nodes).fill(-1);
  for (let node = 0, depth = 0; node >= 0 && depth < 8; depth++) {
    onesDepth[node] = depth;
    const child = children[node * 2 + 1] as number;
    if (child <= 0) break;
    node = child;
  }
  const next = new Int16Array(nodes * 16);
  const emit = new Int16Array(nodes * 16).fill(-1);
  const accepting = new Uint8Array(nodes);
  for (let state = 0; state < nodes; state++) {
    const d = onesDepth[state] as number;
    accepting[state] = d >= 0 && d <= 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let out = -1;
      let failed = false;
      for (let i = 3; i >= 0; i--) {
        const child = children[node * 2 + ((nibble >> i) & 1)] as number;
        if (child > 0) {
          node = child;
        } else {
          const symbol = -child - 1;
          if (symbol === EOS) failed = true;
          out = symbol;
          node = 0;
        }
      }
      next[state * 16 + nibble] = failed ? -1 : node;
      emit[state * 16 + nibble] = failed ? -1 : out;
    }
  }
  machine = { next, emit, accepting };
  return machine;
}

/** Decodes a Huffman-coded string (RFC 7541 §5.2) to latin1 (one char per octet). */
export function huffmanDecode(src: Uint8Array, start = 0, end = src.length): string {
  const { next, emit, accepting } = huffmanMachine();
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / 5));
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i] as number;
    let t = state * 16 + (byte >> 4);
    state = next[t] as number;
    if (state < 0) throw new HpackError("hpack: huffman string contains EOS");
    let symbol = emit[t] as number;
    if (symbol >= 0) out[n++] = symbol;
    t = state * 16 + (byte & 15);
    state = next[t] as number;
    if (state < 0) throw new HpackError("hpack: huffman string contains EOS");
    symbol = emit[t] as number;
    if (symbol >= 0) out[n++] = symbol;
  }
  if (!accepting[state]) throw new HpackError("hpack: invalid huffman padding");
  return latin1(out, 0, n);
}

/** Huffman-codes a latin1 string (one octet per char). */
export function huffmanEncode(text: string): Buffer {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += HUFFMAN_CODE_LENGTHS[text.charCodeAt(i) & 255] as number;
  const out = Buffer.alloc(Math.ceil(bits / 8));
  let acc = 0; // pending bits, at most 7 + 30 < 53: exact in a double
  let accBits = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const s = text.charCodeAt(i) & 255;
    const length = HUFFMAN_CODE_LENGTHS[s] as number;
    acc = acc * 2 ** length + (HUFFMAN_CODES[s] as number);
    accBits += length;
    while (accBits >= 8) {
      accBits -= 8;
      const byte = Math.floor(acc / 2 ** accBits);
      out[n++] = byte;
      acc -= byte * 2 ** accBits;
    }
  }
  // Pad with the most significant bits of EOS (ones).
  if (accBits > 0) out[n++] = (acc << (8 - accBits)) | (0xff >> accBits);
  return out;
}

const EMPTY = new Uint8Array(0);

/** Octets [start, end) as a latin1 string; short ones without a trip into C++. */
function latin1(src: Uint8Array, start: number, end: number): string {
  if (end - start > 32)
    return Buffer.from(src.buffer, src.byteOffset + start, end - start).toString("latin1");
  let out = "";
  for (let i = start; i < end; i++) out += String.fromCharCode(src[i] as number);
  return out;
}

/** The default and largest dynamic table size we accept (SETTINGS_HEADER_TABLE_SIZE of Node's http2 server). */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

export interface HpackDecoderOptions {
  /** The table size the peer's encoder may use at most (our SETTINGS_HEADER_TABLE_SIZE). Default 4096. */
  maxTableSize?: number;
  /** Bound of one decoded header list (RFC 7540 §6.5.2 size: name + value + 32 per field). Default 1 MiB. */
  maxHeaderListSize?: number;
}

/**
 * One connection's HPACK decoder: keeps the dynamic table in step with the
 * peer's encoder across header blocks. Throws HpackError on a malformed block;
 * after that the connection must end (the table is no longer in step).
 *
 * @example
 * const decoder = new HpackDecoder();
 * decoder.decode(Buffer.from("828684410f7777772e6578616d706c652e636f6d", "hex"));
 * // [{ name: ":method", value: "GET" }, …, { name: ":authority", value: "www.example.com" }]
 */
export class HpackDecoder {
  /**
   * Entries oldest first; dynamic index 1 is the last one. Frozen: a decoded list shares them (a field
   * indexed from the table is the table's own object), so no list can change another's.
   */
  private readonly entries: Readonly<HeaderField>[] = [];
  private size = 0;
  private maxSize: number;
  private readonly limit: number;
  private readonly maxListSize: number;

  constructor(opts: HpackDecoderOptions = {}) {
    this.limit = opts.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    this.maxSize = this.limit;
    this.maxListSize = opts.maxHeaderListSize ?? 1024 * 1024;
  }

  /** The dynamic table, newest first (for tests). */
  get dynamicTable(): readonly (readonly [string, string])[] {
    return this.entries.map((e) => [e.name, e.value] as const).reverse();
  }

  get dynamicTableSize(): number {
    return this.size;
  }

  /** The block's header list; a field from the table is the table's own (frozen) object, shared with other lists. */
  decode(block: Uint8Array): Readonly<HeaderField>[] {
    const fields: Readonly<HeaderField>[] = [];
    let listSize = 0;
    this.block = block;
    this.pos = 0;
    const end = block.length;
    try {
      while (this.pos < end) {
        const byte = block[this.pos] as number;
        let field: Readonly<HeaderField>;
        if (byte & 0x80) {
          // Indexed header field (§6.1).
          field = this.entry(this.integer(7));
        } else if (byte & 0x40) {
          // Literal with incremental indexing (§6.2.1).
          const index = this.integer(6);
          const name = index === 0 ? this.string() : this.entry(index).name;
          field = Object.freeze({ name, value: this.string() });
          this.insert(field);
        } else if (byte & 0x20) {
          // Dynamic table size update (§6.3): only before the first field of a block (§4.2).
          if (fields.length > 0) throw new HpackError("hpack: table size update after a header field");
          const size = this.integer(5);
          if (size > this.limit)
            throw new HpackError(`hpack: table size ${size} above the limit ${this.limit}`);
          this.maxSize = size;
          this.evict(0);
          continue;
        } else {
          // Literal without indexing (0000) or never indexed (0001) (§6.2.2, §6.2.3).
          const sensitive = (byte & 0x10) !== 0;
          const index = this.integer(4);
          const name = index === 0 ? this.string() : this.entry(index).name;
          const value = this.string();
          field = sensitive ? { name, value, sensitive } : { name, value };
        }
        listSize += field.name.length + field.value.length + 32;
        if (listSize > this.maxListSize) throw new HpackError("hpack: header list too large");
        fields.push(field);
      }
    } finally {
      this.block = EMPTY;
    }
    return fields;
  }

  /** The block being decoded and the read position in it. */
  private block: Uint8Array = EMPTY;
  private pos = 0;

  /** An integer with an N-bit prefix (§5.1). */
  private integer(prefixBits: number): number {
    const block = this.block;
    const max = (1 << prefixBits) - 1;
    let value = (block[this.pos++] as number) & max;
    if (value < max) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.pos >= block.length) throw new HpackError("hpack: truncated integer");
      // Four continuation bytes hold 28 bits: more than any length or index we accept.
      if (shift > 21) throw new HpackError("hpack: integer too large");
      const byte = block[this.pos++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
  }

  /** A string literal, Huffman-coded or not (§5.2), as latin1. */
  private string(): string {
    const block = this.block;
    if (this.pos >= block.length) throw new HpackError("hpack: truncated string");
    const huffman = ((block[this.pos] as number) & 0x80) !== 0;
    const length = this.integer(7);
    if (length > block.length - this.pos) throw new HpackError("hpack: string longer than the block");
    const start = this.pos;
    this.pos += length;
    if (huffman) return huffmanDecode(block, start, this.pos);
    return latin1(block, start, this.pos);
  }

  private entry(index: number): Readonly<HeaderField> {
    if (index === 0) throw new HpackError("hpack: index 0");
    if (index <= STATIC_FIELDS.length) return STATIC_FIELDS[index - 1] as Readonly<HeaderField>;
    const e = this.entries[this.entries.length - (index - STATIC_TABLE.length)];
    if (!e) throw new HpackError(`hpack: index ${index} is not in the table`);
    return e;
  }

  private insert(field: Readonly<HeaderField>): void {
    const size = field.name.length + field.value.length + 32;
    // An entry larger than the table empties it and is not added (§4.4).
    this.evict(size);
    if (size <= this.maxSize) {
      this.entries.push(field);
      this.size += size;
    }
  }

  /** Evicts oldest entries until `room` more octets fit (§4.3, §4.4). */
  private evict(room: number): void {
    let drop = 0;
    while (drop < this.entries.length && this.size + room > this.maxSize) {
      const { name, value } = this.entries[drop] as Readonly<HeaderField>;
      this.size -= name.length + value.length + 32;
      drop++;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}

/** name → static index of the name, and of each (name, value) pair the static table has. */
const STATIC_INDEX = new Map<string, { name: number; values: Map<string, number> }>();
STATIC_TABLE.forEach(([name, value], i) => {
  const entry = STATIC_INDEX.get(name) ?? { name: i + 1, values: new Map<string, number>() };
  STATIC_INDEX.set(name, entry);
  if (value !== "") entry.values.set(value, i + 1);
});

/** Writes a latin1 string; short ones without a trip into C++. */
function writeLatin1(out: Buffer, pos: number, text: string): number {
  if (text.length > 32) return pos + out.write(text, pos, "latin1");
  for (let i = 0; i < text.length; i++) out[pos + i] = text.charCodeAt(i);
  return pos + text.length;
}

function integerLength(value: number, prefixBits: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) return 1;
  let n = 2;
  for (let rest = value - max; rest >= 128; rest = Math.floor(rest / 128)) n++;
  return n;
}

function writeInteger(out: Buffer, pos: number, value: number, prefixBits: number, flags: number): number {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[pos++] = flags | value;
    return pos;
  }
  out[pos++] = flags | max;
  let rest = value - max;
  while (rest >= 128) {
    out[pos++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[pos++] = rest;
  return pos;
}

/**
 * Encodes a header list with the static table and plain literals only (no
 * Huffman, nothing ever inserted into the peer's dynamic table), so a block can
 * be emitted without any state shared with the receiver. Strings are latin1
 * (one octet per char), as HpackDecoder returns them.
 *
 * @example
 * encodeHeaderBlock([{ name: ":method", value: "POST" }]); // <Buffer 83>
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Buffer {
  let size = 0;
  const plan: number[] = []; // per field: static full-match index, -name index, or 0
  for (const f of fields) {
    const known = STATIC_INDEX.get(f.name);
    const full = f.sensitive ? undefined : known?.values.get(f.value);
    if (full !== undefined) {
      plan.push(full);
      size += integerLength(full, 7);
      continue;
    }
    const nameIndex = known?.name ?? 0;
    plan.push(-nameIndex);
    size += integerLength(nameIndex, 4);
    if (nameIndex === 0) size += integerLength(f.name.length, 7) + f.name.length;
    size += integerLength(f.value.length, 7) + f.value.length;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  fields.forEach((f, i) => {
    const p = plan[i] as number;
    if (p > 0) {
      pos = writeInteger(out, pos, p, 7, 0x80);
      return;
    }
    pos = writeInteger(out, pos, -p, 4, f.sensitive ? 0x10 : 0x00);
    if (p === 0) {
      pos = writeInteger(out, pos, f.name.length, 7, 0);
      pos = writeLatin1(out, pos, f.name);
    }
    pos = writeInteger(out, pos, f.value.length, 7, 0);
    pos = writeLatin1(out, pos, f.value);
  });
  return out;
}
