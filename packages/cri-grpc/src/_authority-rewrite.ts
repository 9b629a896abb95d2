/**
 * A connection wrapper that makes any HTTP/2 `:authority` acceptable to
 * Node's HTTP/2 server: client-to-server HEADERS blocks are decoded and
 * re-encoded with `:authority` (and `host`) set to "localhost"; every other
 * byte passes through unchanged.
 *
 * Why: Go gRPC clients dialled the way kubelet ≤ 1.29 and crictl ≤ 1.29 dial
 * (passthrough target + custom dialer) send the socket path, e.g.
 * "/run/servin/servin.sock", as `:authority`. nghttp2 refuses an authority
 * containing "/" and resets the stream (PROTOCOL_ERROR) before grpc-js sees
 * it, and Node has no switch to relax that check.
 *
 * How: the client's HPACK encoder state is mirrored by one HpackDecoder per
 * connection; blocks are re-encoded with the static table and literals only,
 * so the server's decoder never holds a dynamic entry and cannot fall out of
 * step. The new block is re-framed into HEADERS + CONTINUATION frames of at
 * most 16384 octets (the default SETTINGS_MAX_FRAME_SIZE), padding dropped,
 * priority fields kept. A malformed frame or block ends this connection only
 * (GOAWAY, then close).
 */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { encodeHeaderBlock, type HeaderField, HpackDecoder, HpackError } from "./_hpack.js";

/** The value every request's `:authority` gets. */
export const NORMALISED_AUTHORITY = "localhost";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const TYPE_PUSH_PROMISE = 0x5;
const TYPE_GOAWAY = 0x7;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
/** Frames we emit stay within the default SETTINGS_MAX_FRAME_SIZE every peer accepts (RFC 7540 §6.5.2). */
export const MAX_EMITTED_FRAME = 16_384;
/** A whole header block (all its frames) may not exceed this; far above any gRPC metadata limit. */
const MAX_HEADER_BLOCK = 1024 * 1024;
const PROTOCOL_ERROR = 0x1;
const COMPRESSION_ERROR = 0x9;

class FrameError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export interface AuthorityRewriteOptions {
  /** Told why a connection was ended (a malformed frame or header block). */
  onProtocolError?: (err: Error) => void;
}

/** Counters, for the benchmark and tests. */
export interface AuthorityRewriteStats {
  headerBlocks: number;
}

/**
 * Wraps an accepted connection. Hand the result to grpc-js
 * (`injector.injectConnection(rewriteAuthority(socket))`); closing either side
 * closes the other.
 *
 * @example
 * net.createServer((socket) => injector.injectConnection(rewriteAuthority(socket)));
 */
export function rewriteAuthority(
  socket: Socket,
  opts: AuthorityRewriteOptions = {},
): AuthorityRewritingStream {
  return new AuthorityRewritingStream(socket, opts);
}

export class AuthorityRewritingStream extends Duplex {
  readonly stats: AuthorityRewriteStats = { headerBlocks: 0 };
  private readonly decoder = new HpackDecoder();
  private prefaceLeft = PREFACE.length;
  /** A frame header split across chunks. */
  private readonly partialHeader = Buffer.alloc(FRAME_HEADER);
  private partialFill = 0;
  /** Octets of the current pass-through frame still to come. */
  private passLeft = 0;
  /** Octets of the current HEADERS/CONTINUATION payload still to come, and what has come. */
  private collectLeft = 0;
  private collected: Buffer[] = [];
  private collectType = 0;
  private collectFlags = 0;
  private collectStreamId = 0;
  /** The header block being assembled (HEADERS seen, END_HEADERS not yet). */
  private block:
    | { streamId: number; flags: number; priority?: Buffer; fragments: Buffer[]; size: number }
    | undefined;
  private lastStreamId = 0;
  private failed = false;

  constructor(
    private readonly socket: Socket,
    private readonly opts: AuthorityRewriteOptions,
  ) {
    super({ allowHalfOpen: true });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.push(null));
    socket.on("error", () => this.destroy());
    socket.on("close", () => this.destroy());
  }

  override _read(): void {
    if (this.socket.isPaused()) this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.corkUntilImmediate();
    if (this.socket.write(chunk)) cb();
    else this.socket.once("drain", () => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.corkUntilImmediate();
    let ok = true;
    for (const { chunk } of chunks) ok = this.socket.write(chunk);
    if (ok) cb();
    else this.socket.once("drain", () => cb());
  }

  /**
   * nghttp2 flushes a unary answer in separate writes (response HEADERS, then DATA + trailers, each
   * from its own flush): held until the event loop's check phase they leave as one writev, one
   * syscall and one wake-up of the client instead of two. Nothing waits longer than this turn.
   */
  private corkUntilImmediate(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(this.releaseCork);
  }

  private corked = false;
  private readonly releaseCork = () => {
    this.corked = false;
    this.socket.uncork();
  };

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // After a protocol error the socket is closing by itself, with our GOAWAY still to be flushed.
    if (!this.failed) this.socket.destroy();
    cb(err);
  }

  private onData(chunk: Buffer): void {
    if (this.failed) return;
    try {
      this.consume(chunk);
    } catch (err) {
      this.fail(err instanceof FrameError ? err : new FrameError((err as Error).message, COMPRESSION_ERROR));
    }
  }

  /** Hands octets to the HTTP/2 session; a full buffer pauses the client's socket until _read. */
  private forward(buf: Buffer): void {
    if (buf.length > 0 && !this.push(buf)) this.socket.pause();
  }

  private consume(buf: Buffer): void {
    const end = buf.length;
    let pos = 0;
    /** Start of the pass-through run not yet pushed: runs are pushed as slices of `buf`, never copied. */
    let runStart = 0;

    if (this.prefaceLeft > 0) {
      const n = Math.min(this.prefaceLeft, end);
      const from = PREFACE.length - this.prefaceLeft;
      if (!buf.subarray(0, n).equals(PREFACE.subarray(from, from + n))) {
        throw new FrameError("not an http/2 client preface", PROTOCOL_ERROR);
      }
      this.prefaceLeft -= n;
      pos = n;
    }

    while (pos < end) {
      if (this.passLeft > 0) {
        const n = Math.min(this.passLeft, end - pos);
        this.passLeft -= n;
        pos += n;
        continue;
      }
      if (this.collectLeft > 0) {
        const n = Math.min(this.collectLeft, end - pos);
        this.collected.push(buf.subarray(pos, pos + n));
        this.collectLeft -= n;
        pos += n;
        runStart = pos;
        if (this.collectLeft === 0) this.onPayload();
        continue;
      }
      // A frame header.
      let header: Buffer;
      let headerAt: number;
      if (this.partialFill === 0 && end - pos >= FRAME_HEADER) {
        header = buf;
        headerAt = pos;
        pos += FRAME_HEADER;
      } else {
        if (this.partialFill === 0) {
          // The header starts here and ends in a later chunk: push the run before it.
          this.forward(buf.subarray(runStart, pos));
        }
        const n = Math.min(FRAME_HEADER - this.partialFill, end - pos);
        buf.copy(this.partialHeader, this.partialFill, pos, pos + n);
        this.partialFill += n;
        pos += n;
        runStart = pos;
        if (this.partialFill < FRAME_HEADER) continue;
        this.partialFill = 0;
        header = this.partialHeader;
        headerAt = 0;
      }
      const length = header.readUIntBE(headerAt, 3);
      const type = header[headerAt + 3] as number;
      const flags = header[headerAt + 4] as number;
      const streamId = header.readUInt32BE(headerAt + 5) & 0x7fffffff;

      if (this.block && type !== TYPE_CONTINUATION) {
        throw new FrameError(`frame of type ${type} inside a header block`, PROTOCOL_ERROR);
      }
      if (type === TYPE_HEADERS || type === TYPE_CONTINUATION) {
        if (type === TYPE_CONTINUATION && (!this.block || this.block.streamId !== streamId)) {
          throw new FrameError("continuation frame without its headers frame", PROTOCOL_ERROR);
        }
        if (type === TYPE_HEADERS && streamId === 0)
          throw new FrameError("headers frame on stream 0", PROTOCOL_ERROR);
        // Refuse an oversized block when its frame header arrives, before buffering any of it.
        if ((this.block?.size ?? 0) + length > MAX_HEADER_BLOCK) {
          throw new FrameError("header block too large", PROTOCOL_ERROR);
        }
        // Push the pass-through run before this frame; the frame itself is rewritten.
        if (header === buf) this.forward(buf.subarray(runStart, headerAt));
        runStart = pos;
        this.collectType = type;
        this.collectFlags = flags;
        this.collectStreamId = streamId;
        this.collected = [];
        this.collectLeft = length;
        if (length === 0) this.onPayload();
        continue;
      }
      if (type === TYPE_PUSH_PROMISE) throw new FrameError("push_promise from a client", PROTOCOL_ERROR);
      // Any other frame passes through untouched.
      if (header !== buf) {
        this.forward(Buffer.from(this.partialHeader));
        runStart = pos;
      }
      this.passLeft = length;
    }
    // Whatever is left after runStart is pass-through (collected and split-header octets moved runStart).
    if (runStart < end) this.forward(buf.subarray(runStart, end));
  }

  /** A whole HEADERS or CONTINUATION payload has arrived. */
  private onPayload(): void {
    const payload =
      this.collected.length === 1 ? (this.collected[0] as Buffer) : Buffer.concat(this.collected);
    this.collected = [];
    const flags = this.collectFlags;
    let fragment: Buffer;
    if (this.collectType === TYPE_HEADERS) {
      let offset = 0;
      let padding = 0;
      if (flags & FLAG_PADDED) {
        if (payload.length < 1)
          throw new FrameError("padded headers frame without pad length", PROTOCOL_ERROR);
        padding = payload[0] as number;
        offset = 1;
      }
      let priority: Buffer | undefined;
      if (flags & FLAG_PRIORITY) {
        if (payload.length < offset + 5)
          throw new FrameError("headers frame too short for priority", PROTOCOL_ERROR);
        priority = Buffer.from(payload.subarray(offset, offset + 5));
        offset += 5;
      }
      if (padding > payload.length - offset)
        throw new FrameError("headers padding exceeds the frame", PROTOCOL_ERROR);
      fragment = payload.subarray(offset, payload.length - padding);
      this.block = { streamId: this.collectStreamId, flags, priority, fragments: [], size: 0 };
    } else {
      fragment = payload;
    }
    const block = this.block as NonNullable<typeof this.block>;
    block.fragments.push(fragment);
    block.size += fragment.length;
    if (block.size > MAX_HEADER_BLOCK) throw new FrameError("header block too large", PROTOCOL_ERROR);
    if (flags & FLAG_END_HEADERS) {
      this.block = undefined;
      this.rewrite(block);
    }
  }

  private rewrite(block: { streamId: number; flags: number; priority?: Buffer; fragments: Buffer[] }): void {
    const encoded =
      block.fragments.length === 1 ? (block.fragments[0] as Buffer) : Buffer.concat(block.fragments);
    let fields: HeaderField[];
    try {
      fields = this.decoder.decode(encoded);
    } catch (err) {
      throw new FrameError(
        (err as Error).message,
        err instanceof HpackError ? COMPRESSION_ERROR : PROTOCOL_ERROR,
      );
    }
    for (const f of fields) {
      if (f.name === ":authority" || f.name === "host") f.value = NORMALISED_AUTHORITY;
    }
    this.stats.headerBlocks++;
    if (block.streamId > this.lastStreamId) this.lastStreamId = block.streamId;
    this.forward(frameHeaderBlock(encodeHeaderBlock(fields), block.streamId, block.flags, block.priority));
  }

  /** Ends this connection only: GOAWAY with the error, then close (RFC 7540 §5.4.1). */
  private fail(err: FrameError): void {
    if (this.failed) return;
    this.failed = true;
    this.opts.onProtocolError?.(err);
    const reason = Buffer.from(err.message.slice(0, 200), "latin1");
    const goaway = Buffer.alloc(FRAME_HEADER + 8 + reason.length);
    goaway.writeUIntBE(8 + reason.length, 0, 3);
    goaway[3] = TYPE_GOAWAY;
    goaway.writeUInt32BE(this.lastStreamId, 9);
    goaway.writeUInt32BE(err.code, 13);
    reason.copy(goaway, 17);
    // The server may be mid-frame on this socket; the client is being dropped either way.
    this.socket.end(goaway);
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.destroy();
  }
}

/**
 * Frames a header block as HEADERS (+ CONTINUATION) frames of at most
 * MAX_EMITTED_FRAME payload octets: END_STREAM and PRIORITY kept, no padding.
 */
export function frameHeaderBlock(block: Buffer, streamId: number, flags: number, priority?: Buffer): Buffer {
  const first = MAX_EMITTED_FRAME - (priority ? 5 : 0);
  const rest = Math.max(0, block.length - first);
  const continuations = Math.ceil(rest / MAX_EMITTED_FRAME);
  const out = Buffer.allocUnsafe(block.length + (priority ? 5 : 0) + FRAME_HEADER * (1 + continuations));
  let pos = 0;
  const writeHeader = (length: number, type: number, f: number) => {
    out[pos] = length >>> 16;
    out[pos + 1] = (length >>> 8) & 0xff;
    out[pos + 2] = length & 0xff;
    out[pos + 3] = type;
    out[pos + 4] = f;
    out[pos + 5] = (streamId >>> 24) & 0x7f;
    out[pos + 6] = (streamId >>> 16) & 0xff;
    out[pos + 7] = (streamId >>> 8) & 0xff;
    out[pos + 8] = streamId & 0xff;
    pos += FRAME_HEADER;
  };
  const firstLength = Math.min(first, block.length);
  const headersFlags =
    (flags & (FLAG_END_STREAM | FLAG_PRIORITY)) | (continuations === 0 ? FLAG_END_HEADERS : 0);
  writeHeader(firstLength + (priority ? 5 : 0), TYPE_HEADERS, headersFlags);
  if (priority) pos += priority.copy(out, pos);
  pos += block.copy(out, pos, 0, firstLength);
  for (let at = firstLength, i = 0; i < continuations; i++) {
    const n = Math.min(MAX_EMITTED_FRAME, block.length - at);
    writeHeader(n, TYPE_CONTINUATION, i === continuations - 1 ? FLAG_END_HEADERS : 0);
    pos += block.copy(out, pos, at, at + n);
    at += n;
  }
  return out;
}
