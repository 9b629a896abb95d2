/**
 * The server side of one HTTP/2 connection (RFC 9113), as much of it as gRPC needs, over a plain socket.
 *
 * Why not node:http2: nghttp2 refuses the `:authority` that Go clients dialled the way kubelet ≤ 1.29
 * and crictl ≤ 1.29 dial send (the socket path, with "/"), and Node has no switch to relax that check.
 * Rewriting every header block in a JS stream in front of nghttp2 worked but doubled the per-call cost
 * (every byte crossed JS ↔ C++ twice, through JSStreamSocket); grpc-js's server machinery added as much
 * again. Here a call is one socket read, one HPACK decode and one socket write, and the authority is
 * never looked at.
 *
 * What it does: the preface and SETTINGS exchange; HEADERS/CONTINUATION decoded with the connection's
 * HPACK decoder (responses are encoded with the static table and literals only, so the client's decoder
 * never holds a dynamic entry of ours); DATA with both levels of flow control, each way; PING (answered,
 * and sent as keepalive); RST_STREAM; GOAWAY both ways; PRIORITY and unknown frame types ignored. A
 * malformed frame or header block ends this connection only (GOAWAY with the error code, then close); a
 * malformed stream ends that stream only (RST_STREAM).
 */
import type { Socket } from "node:net";
import { type HeaderField, HpackDecoder, HpackError } from "../_hpack.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const FRAME_HEADER = 9;

const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

/** RFC 9113 §7 error codes. */
export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;
const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The frame size we accept (we never raise SETTINGS_MAX_FRAME_SIZE) and the peer's until it says more. */
const DEFAULT_MAX_FRAME = 16_384;
/** CONTINUATION frames one header block may take (a 64 KiB list in 16 KiB frames takes 4). */
const MAX_CONTINUATION_FRAMES = 64;
/** Answers not yet taken by the socket above which we stop reading the peer until they drain. */
const MAX_UNSENT_OCTETS = 1024 * 1024;
/** Answer octets waiting for the peer's flow-control windows above which new streams are refused. */
const MAX_QUEUED_OCTETS = 16 * 1024 * 1024;
/** From this many octets queued in one turn, the socket gathers the pieces (writev) instead of our copying them. */
const GATHER_OCTETS = 16 * 1024;
/** Streams we reset while the peer was still sending, remembered so that its frames in flight are ignored. */
const MAX_RECENTLY_RESET = 1024;
/** After a connection error, how long the peer has to read our GOAWAY and close before we drop it. */
const CLOSE_GRACE_MS = 1000;
/**
 * Calls a client may cancel (RST_STREAM on a stream we had not finished) in a burst, and per second
 * after it (a token bucket, as nghttp2's stream reset rate limit): a cancelled call's work goes on
 * after its stream is gone, so cancelling without bound would get around the concurrent stream limit.
 */
const RESET_BURST = 1000;
const RESETS_PER_SECOND = 100;

/** What this side announces; the connection's receive window is raised to `connectionWindow` at once. */
export interface H2Limits {
  /** Streams open at once per connection; more are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** Our receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow: number;
  /** Our receive window for the whole connection. */
  connectionWindow: number;
  /** Bound of one decoded header list (name + value + 32 per field). */
  maxHeaderListSize: number;
  /** Send a PING after this long and end the connection if it is not answered within `keepaliveTimeoutMs`; 0: never. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

const DEFAULT_H2_LIMITS: Readonly<H2Limits> = Object.freeze({
  maxConcurrentStreams: 256,
  streamWindow: 1024 * 1024,
  connectionWindow: 16 * 1024 * 1024,
  maxHeaderListSize: 64 * 1024,
  keepaliveTimeMs: 2 * 60_000,
  keepaliveTimeoutMs: 20_000,
});

/** What the application gives each stream: the request's body octets, its end, and its cancel. */
export interface H2StreamHandler {
  /** DATA payload (padding removed); `end` with the END_STREAM flag. */
  onData(data: Buffer, end: boolean): void;
  /** The stream ended without our answer: RST_STREAM from the client, or the connection is gone. */
  onReset(code: number): void;
  /** The stream's queued answer octets have all left (flow control allowed them). */
  onDrain?(): void;
}

/** A stream (a call) as the application sees it. */
export class H2Stream {
  /** Set by the application when it accepts the stream. */
  handler: H2StreamHandler | undefined;
  /** END_STREAM received. */
  remoteClosed = false;
  /** END_STREAM sent or the stream reset: nothing more goes out. */
  localClosed = false;
  /** Our headers went out (the answer's HEADERS, not trailers). */
  headersSent = false;
  /** Octets the peer lets us send on this stream. */
  sendWindow: number;
  /** Octets received since our last WINDOW_UPDATE for this stream. */
  recvUnacked = 0;
  /** DATA not sent yet for lack of window, and the trailers to send after it. */
  queue: Buffer[] = [];
  queuedBytes = 0;
  trailers: Buffer | undefined;

  constructor(
    readonly id: number,
    readonly headers: readonly HeaderField[],
    private readonly conn: H2ServerConnection,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** The first value of a header, or undefined. */
  header(name: string): string | undefined {
    for (const f of this.headers) if (f.name === name) return f.value;
    return undefined;
  }

  /** Every value of a header. */
  headerValues(name: string): string[] {
    return this.headers.filter((f) => f.name === name).map((f) => f.value);
  }

  /**
   * Sends what is given, in order: the response header block (if not sent yet), DATA, and the trailer
   * block with END_STREAM. Within the flow-control windows it leaves in one socket write; the rest
   * waits for WINDOW_UPDATE. Returns false when DATA is queued (the caller may wait for onDrain).
   */
  send(headerBlock: Buffer | undefined, data: Buffer | undefined, trailerBlock: Buffer | undefined): boolean {
    if (this.localClosed) return true;
    return this.conn.sendOnStream(this, headerBlock, data, trailerBlock);
  }

  /**
   * A whole unary gRPC answer: response headers, `message` with its 5-octet gRPC prefix, trailers. When
   * the windows allow it, all three frames are written into one buffer (one copy of the message).
   */
  sendUnary(headerBlock: Buffer, message: Buffer, trailerBlock: Buffer): void {
    if (this.localClosed) return;
    this.conn.sendUnaryOnStream(this, headerBlock, message, trailerBlock);
  }

  /** Ends the stream with RST_STREAM (e.g. NO_ERROR after a complete answer to an unfinished request). */
  reset(code: number): void {
    this.conn.resetStream(this, code);
  }

  /** Whether the socket can take more without buffering in memory. */
  get writable(): boolean {
    return this.conn.writable;
  }

  /** Calls `cb` once the socket's buffer has drained (or the connection is gone). */
  onSocketDrain(cb: () => void): void {
    this.conn.onceSocketDrain(cb);
  }
}

export interface H2ConnectionOptions {
  limits?: Partial<H2Limits>;
  /** A new stream (a request's complete header block). Throwing resets the stream with INTERNAL_ERROR. */
  onStream(stream: H2Stream, endStream: boolean): void;
  /** The connection ended because of the peer's protocol error (logged by the caller). */
  onProtocolError?(err: Error): void;
  /** The socket closed. */
  onClose?(): void;
}

class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

class StreamError extends Error {
  constructor(
    readonly streamId: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Serves HTTP/2 on an accepted socket until either side ends it.
 *
 * @example
 * net.createServer((socket) => new H2ServerConnection(socket, { onStream: (s) => answer(s) }));
 */
export class H2ServerConnection {
  readonly limits: H2Limits;
  private readonly decoder: HpackDecoder;
  private readonly streams = new Map<number, H2Stream>();
  private prefaceLeft = PREFACE.length;
  private settingsSeen = false;
  /** Bytes of an incomplete frame. */
  private pending: Buffer | undefined;
  /** A header block still waiting for CONTINUATION frames. */
  private continuation:
    | {
        streamId: number;
        endStream: boolean;
        selfDependent: boolean;
        fragments: Buffer[];
        size: number;
        frames: number;
      }
    | undefined;
  /** Streams reset by us before the peer ended them (RFC 9113 §5.1: its frames in flight are ignored). */
  private readonly recentlyReset = new Set<number>();
  /** Reading paused until the socket drains our answers. */
  private readPaused = false;
  /** DATA octets of all streams waiting for flow-control window. */
  private queuedOctets = 0;
  /** Told once the socket drains (one "drain" listener for them all). */
  private drainCallbacks: (() => void)[] = [];
  private resetTokens = RESET_BURST;
  private resetTokensAt = 0;
  private lastStreamId = 0;
  private goingAway = false;
  private closed = false;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerInitialWindow = DEFAULT_WINDOW;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvUnacked = 0;
  /** Streams with DATA waiting for the connection's window. */
  private readonly blocked = new Set<H2Stream>();
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly opts: H2ConnectionOptions,
  ) {
    this.limits = { ...DEFAULT_H2_LIMITS, ...opts.limits };
    this.decoder = new HpackDecoder({ maxHeaderListSize: this.limits.maxHeaderListSize });
    socket.setNoDelay?.(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onPeerEnd());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.onSocketClose());
    socket.on("drain", () => this.onSocketDrained());
    this.sendServerPreface();
    this.armKeepalive();
  }

  get writable(): boolean {
    return !this.closed && !this.socket.writableNeedDrain;
  }

  /** @internal H2Stream.onSocketDrain */
  onceSocketDrain(cb: () => void): void {
    if (this.closed || this.socket.destroyed) cb();
    else this.drainCallbacks.push(cb);
  }

  private onSocketDrained(): void {
    if (this.readPaused) {
      this.readPaused = false;
      if (!this.closed) this.socket.resume();
    }
    const callbacks = this.drainCallbacks;
    if (callbacks.length === 0) return;
    this.drainCallbacks = [];
    for (const cb of callbacks) cb();
  }

  /** Graceful end: GOAWAY (no new streams), then close once the open streams are done. */
  goAway(): void {
    if (this.closed || this.goingAway) return;
    this.goingAway = true;
    this.writeGoAway(H2Error.NO_ERROR, "");
    this.closeIfIdle();
  }

  /** Ends the connection now; open streams see onReset(CANCEL). */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    try {
      let pos = 0;
      if (this.prefaceLeft > 0) {
        const n = Math.min(this.prefaceLeft, buf.length);
        const from = PREFACE.length - this.prefaceLeft;
        if (buf.compare(PREFACE, from, from + n, 0, n) !== 0) {
          throw new ConnectionError(H2Error.PROTOCOL_ERROR, "not an http/2 client preface");
        }
        this.prefaceLeft -= n;
        pos = n;
      }
      while (buf.length - pos >= FRAME_HEADER) {
        const length = buf.readUIntBE(pos, 3);
        if (length > DEFAULT_MAX_FRAME) {
          throw new ConnectionError(
            H2Error.FRAME_SIZE_ERROR,
            `frame of ${length} octets (max ${DEFAULT_MAX_FRAME})`,
          );
        }
        if (buf.length - pos < FRAME_HEADER + length) break;
        const type = buf[pos + 3] as number;
        const flags = buf[pos + 4] as number;
        const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = buf.subarray(pos + FRAME_HEADER, pos + FRAME_HEADER + length);
        pos += FRAME_HEADER + length;
        try {
          this.onFrame(type, flags, streamId, payload);
        } catch (err) {
          if (!(err instanceof StreamError)) throw err;
          const stream = this.streams.get(err.streamId);
          if (stream) this.resetStream(stream, err.code, true);
          else this.writeFrame(FrameType.RST_STREAM, 0, err.streamId, u32(err.code));
        }
        if (this.closed) return;
      }
      if (pos < buf.length) this.pending = buf.subarray(pos);
    } catch (err) {
      if (err instanceof ConnectionError) this.fail(err);
      else if (err instanceof HpackError)
        this.fail(new ConnectionError(H2Error.COMPRESSION_ERROR, err.message));
      else this.fail(new ConnectionError(H2Error.INTERNAL_ERROR, (err as Error).message));
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen) {
      if (type !== FrameType.SETTINGS || flags & FLAG_ACK) {
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "the client preface must end with SETTINGS");
      }
      this.settingsSeen = true;
    }
    if (this.continuation && type !== FrameType.CONTINUATION) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "header block interrupted by another frame");
    }
    switch (type) {
      case FrameType.DATA:
        this.onDataFrame(flags, streamId, payload);
        return;
      case FrameType.HEADERS:
        this.onHeadersFrame(flags, streamId, payload);
        return;
      case FrameType.PRIORITY:
        if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "PRIORITY on stream 0");
        if (payload.length !== 5) throw new StreamError(streamId, H2Error.FRAME_SIZE_ERROR, "PRIORITY size");
        return;
      case FrameType.RST_STREAM:
        this.onRstStream(streamId, payload);
        return;
      case FrameType.SETTINGS:
        this.onSettings(flags, streamId, payload);
        return;
      case FrameType.PUSH_PROMISE:
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case FrameType.PING:
        this.onPing(flags, streamId, payload);
        return;
      case FrameType.GOAWAY:
        if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "GOAWAY on a stream");
        if (payload.length < 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "GOAWAY size");
        this.goingAway = true;
        this.closeIfIdle();
        return;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(streamId, payload);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(flags, streamId, payload);
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  /** The payload without padding; `skip` octets (priority fields) after the pad length. */
  private unpad(flags: number, streamId: number, payload: Buffer, skip: number): Buffer {
    if ((flags & FLAG_PADDED) === 0 && skip === 0) return payload; // the usual case: no new view
    let start = 0;
    let padding = 0;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1)
        throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "padded frame without pad length");
      padding = payload[0] as number;
      start = 1;
    }
    start += skip;
    if (start + padding > payload.length) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, `padding exceeds the payload of stream ${streamId}`);
    }
    return payload.subarray(start, payload.length - padding);
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "DATA on stream 0");
    // Flow control counts the whole payload, padding included, whatever becomes of the stream.
    this.connRecvUnacked += payload.length;
    if (this.connRecvUnacked > this.limits.connectionWindow) {
      throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "the client sent beyond the connection window");
    }
    if (this.connRecvUnacked >= this.limits.connectionWindow / 2) {
      this.writeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.connRecvUnacked));
      this.connRecvUnacked = 0;
    }
    const data = this.unpad(flags, streamId, payload, 0);
    const stream = this.streams.get(streamId);
    if (!stream || stream.remoteClosed) {
      if (!stream && this.recentlyReset.has(streamId)) return; // in flight when we reset it
      if (streamId > this.lastStreamId)
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "DATA on an idle stream");
      throw new StreamError(streamId, H2Error.STREAM_CLOSED, "DATA on a closed stream");
    }
    stream.recvUnacked += payload.length;
    if (stream.recvUnacked > this.limits.streamWindow) {
      throw new StreamError(streamId, H2Error.FLOW_CONTROL_ERROR, "the client sent beyond the stream window");
    }
    const end = (flags & FLAG_END_STREAM) !== 0;
    if (end) stream.remoteClosed = true;
    else if (stream.recvUnacked >= this.limits.streamWindow / 2) {
      this.writeFrame(FrameType.WINDOW_UPDATE, 0, streamId, u32(stream.recvUnacked));
      stream.recvUnacked = 0;
    }
    stream.handler?.onData(data, end);
    if (end) this.maybeForget(stream);
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "HEADERS on stream 0");
    const fragment = this.unpad(flags, streamId, payload, flags & FLAG_PRIORITY ? 5 : 0);
    // A stream depending on itself is refused (§5.3.1), once its header block fed the HPACK table.
    const selfDependent =
      (flags & FLAG_PRIORITY) !== 0 &&
      (payload.readUInt32BE(flags & FLAG_PADDED ? 1 : 0) & 0x7fffffff) === streamId;
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (flags & FLAG_END_HEADERS) {
      this.onHeaderBlock(streamId, endStream, fragment, selfDependent);
      return;
    }
    this.continuation = {
      streamId,
      endStream,
      selfDependent,
      fragments: [fragment],
      size: fragment.length,
      frames: 0,
    };
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const c = this.continuation;
    if (!c || c.streamId !== streamId) {
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "CONTINUATION without a header block in progress");
    }
    if (++c.frames > MAX_CONTINUATION_FRAMES) {
      throw new ConnectionError(
        H2Error.ENHANCE_YOUR_CALM,
        `header block in more than ${MAX_CONTINUATION_FRAMES} CONTINUATION frames`,
      );
    }
    c.fragments.push(payload);
    c.size += payload.length;
    if (c.size > this.limits.maxHeaderListSize * 2) {
      throw new ConnectionError(
        H2Error.ENHANCE_YOUR_CALM,
        `header block over ${this.limits.maxHeaderListSize * 2} octets`,
      );
    }
    if (flags & FLAG_END_HEADERS) {
      this.continuation = undefined;
      this.onHeaderBlock(streamId, c.endStream, Buffer.concat(c.fragments, c.size), c.selfDependent);
    }
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer, selfDependent = false): void {
    // Always decode: the HPACK table must stay in step even for a stream we refuse.
    const fields = this.decoder.decode(block);
    if (selfDependent) {
      if (streamId > this.lastStreamId && streamId % 2 === 1) this.lastStreamId = streamId;
      throw new StreamError(streamId, H2Error.PROTOCOL_ERROR, "stream depends on itself");
    }
    const existing = this.streams.get(streamId);
    if (existing) {
      // Trailers of a request: they must end the stream.
      if (existing.remoteClosed)
        throw new StreamError(streamId, H2Error.STREAM_CLOSED, "HEADERS on a closed stream");
      if (!endStream)
        throw new StreamError(streamId, H2Error.PROTOCOL_ERROR, "request trailers without END_STREAM");
      existing.remoteClosed = true;
      existing.handler?.onData(EMPTY, true);
      this.maybeForget(existing);
      return;
    }
    if (streamId % 2 === 0)
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, `client stream ${streamId} is even`);
    if (streamId <= this.lastStreamId) {
      if (this.recentlyReset.has(streamId)) return; // trailers in flight when we reset it
      throw new ConnectionError(H2Error.STREAM_CLOSED, `stream ${streamId} was already used`);
    }
    this.lastStreamId = streamId;
    if (
      this.goingAway ||
      this.streams.size >= this.limits.maxConcurrentStreams ||
      // A peer that does not open its windows gets no more answers to hold.
      this.queuedOctets > MAX_QUEUED_OCTETS
    ) {
      this.writeFrame(FrameType.RST_STREAM, 0, streamId, u32(H2Error.REFUSED_STREAM));
      if (!endStream) this.noteReset(streamId);
      return;
    }
    const stream = new H2Stream(streamId, fields, this, this.peerInitialWindow);
    stream.remoteClosed = endStream;
    this.streams.set(streamId, stream);
    try {
      this.opts.onStream(stream, endStream);
    } catch {
      this.resetStream(stream, H2Error.INTERNAL_ERROR);
    }
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "RST_STREAM size");
    if (streamId > this.lastStreamId)
      throw new ConnectionError(H2Error.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    const stream = this.streams.get(streamId);
    if (!stream) return; // closed already: a reset crossing our answer
    this.takeResetToken();
    stream.localClosed = true;
    stream.remoteClosed = true;
    this.forget(stream);
    stream.handler?.onReset(payload.readUInt32BE(0));
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "SETTINGS on a stream");
    if (flags & FLAG_ACK) {
      if (payload.length !== 0)
        throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "SETTINGS ack with a payload");
      return;
    }
    if (payload.length % 6 !== 0) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "SETTINGS size");
    for (let pos = 0; pos < payload.length; pos += 6) {
      const id = payload.readUInt16BE(pos);
      const value = payload.readUInt32BE(pos + 2);
      switch (id) {
        case SETTINGS_ENABLE_PUSH:
          if (value > 1) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "SETTINGS_ENABLE_PUSH above 1");
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW)
            throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "initial window above 2^31-1");
          const delta = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW)
              throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "stream window overflow");
          }
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 16_777_215) {
            throw new ConnectionError(
              H2Error.PROTOCOL_ERROR,
              `SETTINGS_MAX_FRAME_SIZE ${value} out of range`,
            );
          }
          this.peerMaxFrame = value;
          break;
        default:
          // HEADER_TABLE_SIZE: our encoder uses no dynamic table. MAX_CONCURRENT_STREAMS: we push nothing.
          // MAX_HEADER_LIST_SIZE: advisory. Unknown ids are ignored (§6.5.2).
          break;
      }
    }
    this.writeFrame(FrameType.SETTINGS, FLAG_ACK, 0, EMPTY);
    this.pumpAll();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "PING on a stream");
    if (payload.length !== 8) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "PING size");
    if (flags & FLAG_ACK) {
      if (this.pingTimer) clearTimeout(this.pingTimer);
      this.pingTimer = undefined;
      return;
    }
    this.writeFrame(FrameType.PING, FLAG_ACK, 0, Buffer.from(payload));
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(H2Error.FRAME_SIZE_ERROR, "WINDOW_UPDATE size");
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(H2Error.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW)
        throw new ConnectionError(H2Error.FLOW_CONTROL_ERROR, "window overflow");
      this.pumpAll();
      return;
    }
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (streamId > this.lastStreamId)
        throw new ConnectionError(H2Error.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
      return; // a closed stream: allowed, ignored
    }
    if (increment === 0) throw new StreamError(streamId, H2Error.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW)
      throw new StreamError(streamId, H2Error.FLOW_CONTROL_ERROR, "window overflow");
    this.pump(stream);
  }

  // ---- output ----

  /** @internal H2Stream.send */
  sendOnStream(
    stream: H2Stream,
    headerBlock?: Buffer,
    data?: Buffer | readonly Buffer[],
    trailerBlock?: Buffer,
  ): boolean {
    if (headerBlock && !stream.headersSent) {
      stream.headersSent = true;
      this.writeHeaders(stream.id, headerBlock, 0);
    }
    for (const chunk of data === undefined ? [] : Buffer.isBuffer(data) ? [data] : data) {
      if (chunk.length === 0) continue;
      stream.queue.push(chunk);
      stream.queuedBytes += chunk.length;
      this.queuedOctets += chunk.length;
    }
    if (trailerBlock) stream.trailers = trailerBlock;
    this.pump(stream);
    return stream.queuedBytes === 0;
  }

  /** @internal H2Stream.sendUnary */
  sendUnaryOnStream(stream: H2Stream, headerBlock: Buffer, message: Buffer, trailerBlock: Buffer): void {
    const data = 5 + message.length;
    const fits =
      !stream.headersSent &&
      stream.queue.length === 0 &&
      data <= this.connSendWindow &&
      data <= stream.sendWindow &&
      data <= this.peerMaxFrame &&
      headerBlock.length <= this.peerMaxFrame &&
      trailerBlock.length <= this.peerMaxFrame;
    if (!fits) {
      // Queued as the 5-octet gRPC prefix and the message itself: no copy of a large answer.
      const prefix = Buffer.allocUnsafe(5);
      prefix[0] = 0;
      prefix.writeUInt32BE(message.length, 1);
      this.sendOnStream(stream, headerBlock, [prefix, message], trailerBlock);
      return;
    }
    if (this.closed) return;
    const total = 3 * FRAME_HEADER + headerBlock.length + data + trailerBlock.length;
    const buf = Buffer.allocUnsafe(total);
    let pos = putFrameHeader(buf, 0, headerBlock.length, FrameType.HEADERS, FLAG_END_HEADERS, stream.id);
    pos += headerBlock.copy(buf, pos);
    pos = putFrameHeader(buf, pos, data, FrameType.DATA, 0, stream.id);
    buf[pos] = 0;
    buf.writeUInt32BE(message.length, pos + 1);
    pos += 5;
    pos += message.copy(buf, pos);
    pos = putFrameHeader(
      buf,
      pos,
      trailerBlock.length,
      FrameType.HEADERS,
      FLAG_END_HEADERS | FLAG_END_STREAM,
      stream.id,
    );
    trailerBlock.copy(buf, pos);
    stream.headersSent = true;
    stream.sendWindow -= data;
    this.connSendWindow -= data;
    this.queueOut(buf);
    this.endLocal(stream);
  }

  /** Our END_STREAM went out: the stream is done, and a client still sending is told to stop (§8.1). */
  private endLocal(stream: H2Stream): void {
    stream.localClosed = true;
    if (!stream.remoteClosed) {
      this.writeFrame(FrameType.RST_STREAM, 0, stream.id, u32(H2Error.NO_ERROR));
      this.noteReset(stream.id);
      stream.remoteClosed = true;
    }
    this.forget(stream);
  }

  /** Sends what the windows allow of a stream's queued DATA, then its trailers once the queue is empty. */
  private pump(stream: H2Stream): void {
    while (stream.queue.length > 0) {
      const allowed = Math.min(this.connSendWindow, stream.sendWindow, this.peerMaxFrame);
      if (allowed <= 0) {
        if (this.connSendWindow <= 0) this.blocked.add(stream);
        return;
      }
      const head = stream.queue[0] as Buffer;
      const n = Math.min(allowed, head.length);
      this.writeFrame(FrameType.DATA, 0, stream.id, n === head.length ? head : head.subarray(0, n));
      if (n === head.length) stream.queue.shift();
      else stream.queue[0] = head.subarray(n);
      stream.queuedBytes -= n;
      this.queuedOctets -= n;
      stream.sendWindow -= n;
      this.connSendWindow -= n;
    }
    this.blocked.delete(stream);
    if (stream.trailers) {
      const block = stream.trailers;
      stream.trailers = undefined;
      this.writeHeaders(stream.id, block, FLAG_END_STREAM);
      this.endLocal(stream);
    }
    stream.handler?.onDrain?.();
  }

  private pumpAll(): void {
    for (const s of [...(this.blocked.size > 0 ? this.blocked : []), ...this.streams.values()]) {
      if (s.queue.length > 0) this.pump(s);
    }
  }

  /** @internal H2Stream.reset; `notify` tells the stream's handler (the error came from the peer's frame). */
  resetStream(stream: H2Stream, code: number, notify = false): void {
    if (!this.streams.has(stream.id)) return;
    if (!stream.localClosed) this.writeFrame(FrameType.RST_STREAM, 0, stream.id, u32(code));
    if (!stream.remoteClosed) this.noteReset(stream.id);
    stream.localClosed = true;
    stream.remoteClosed = true;
    this.forget(stream);
    if (notify) stream.handler?.onReset(code);
  }

  /** Counts a call cancelled by the client; too many too fast end the connection. */
  private takeResetToken(): void {
    const now = performance.now();
    if (this.resetTokens < RESET_BURST) {
      this.resetTokens = Math.min(
        RESET_BURST,
        this.resetTokens + ((now - this.resetTokensAt) * RESETS_PER_SECOND) / 1000,
      );
    }
    this.resetTokensAt = now;
    if (this.resetTokens < 1) {
      throw new ConnectionError(
        H2Error.ENHANCE_YOUR_CALM,
        `more than ${RESET_BURST} calls cancelled at once (RST_STREAM), ${RESETS_PER_SECOND} per second after that`,
      );
    }
    this.resetTokens -= 1;
  }

  /** Remembers a stream we reset while its peer was still sending (the oldest is forgotten first). */
  private noteReset(streamId: number): void {
    this.recentlyReset.add(streamId);
    if (this.recentlyReset.size > MAX_RECENTLY_RESET) {
      this.recentlyReset.delete(this.recentlyReset.values().next().value as number);
    }
  }

  private maybeForget(stream: H2Stream): void {
    if (stream.localClosed && stream.remoteClosed) this.forget(stream);
  }

  private forget(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    this.queuedOctets -= stream.queuedBytes;
    if (stream.queue.length > 0) stream.queue = [];
    stream.queuedBytes = 0;
    this.closeIfIdle();
  }

  private writeHeaders(streamId: number, block: Buffer, flags: number): void {
    if (block.length <= this.peerMaxFrame) {
      this.writeFrame(FrameType.HEADERS, flags | FLAG_END_HEADERS, streamId, block);
      return;
    }
    let pos = 0;
    let type: number = FrameType.HEADERS;
    while (pos < block.length) {
      const n = Math.min(this.peerMaxFrame, block.length - pos);
      const last = pos + n === block.length;
      const f = (type === FrameType.HEADERS ? flags : 0) | (last ? FLAG_END_HEADERS : 0);
      this.writeFrame(type, f, streamId, block.subarray(pos, pos + n));
      type = FrameType.CONTINUATION;
      pos += n;
    }
  }

  private writeFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.closed) return;
    const header = Buffer.allocUnsafe(FRAME_HEADER);
    putFrameHeader(header, 0, payload.length, type, flags, streamId);
    this.queueOut(header);
    if (payload.length > 0) this.queueOut(payload);
  }

  /** Queues octets for the flush at the end of this turn. */
  private queueOut(buf: Buffer): void {
    if (this.closed) return;
    this.out.push(buf);
    this.outBytes += buf.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
  }

  /**
   * Everything written in one turn leaves in one socket write: small pieces concatenated, large ones
   * (a big answer's DATA frames are slices of its message) gathered by the kernel (writev) instead of
   * copied into one more buffer.
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.socket.destroyed) return;
    if (out.length === 1 || bytes < GATHER_OCTETS) {
      this.socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out, bytes));
    } else {
      this.socket.cork();
      for (const buf of out) this.socket.write(buf);
      this.socket.uncork();
    }
    // A peer that does not read what we answer is not read from either: what it is owed stays bounded.
    if (this.socket.writableLength > MAX_UNSENT_OCTETS && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause(); // resumed by onSocketDrained
    }
  };

  private sendServerPreface(): void {
    const settings = Buffer.alloc(18);
    settings.writeUInt16BE(SETTINGS_MAX_CONCURRENT_STREAMS, 0);
    settings.writeUInt32BE(this.limits.maxConcurrentStreams, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(this.limits.streamWindow, 8);
    settings.writeUInt16BE(SETTINGS_MAX_HEADER_LIST_SIZE, 12);
    settings.writeUInt32BE(this.limits.maxHeaderListSize, 14);
    this.writeFrame(FrameType.SETTINGS, 0, 0, settings);
    if (this.limits.connectionWindow > DEFAULT_WINDOW) {
      this.writeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(this.limits.connectionWindow - DEFAULT_WINDOW));
    }
  }

  private writeGoAway(code: number, debug: string): void {
    const payload = Buffer.alloc(8 + Buffer.byteLength(debug));
    payload.writeUInt32BE(this.lastStreamId, 0);
    payload.writeUInt32BE(code, 4);
    payload.write(debug, 8);
    this.writeFrame(FrameType.GOAWAY, 0, 0, payload);
  }

  private armKeepalive(): void {
    if (this.limits.keepaliveTimeMs <= 0) return;
    this.keepaliveTimer = setInterval(() => {
      if (this.pingTimer) return;
      this.writeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));
      this.pingTimer = setTimeout(() => this.destroy(), this.limits.keepaliveTimeoutMs);
      this.pingTimer.unref();
    }, this.limits.keepaliveTimeMs);
    this.keepaliveTimer.unref();
  }

  private fail(err: ConnectionError): void {
    if (this.closed) return;
    this.opts.onProtocolError?.(err);
    this.writeGoAway(err.code, err.message.slice(0, 200));
    this.flush();
    this.closed = true;
    this.socket.end();
    // A peer that neither reads nor closes is dropped.
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    this.abortAll(H2Error.CANCEL);
  }

  private closeIfIdle(): void {
    if (this.goingAway && this.streams.size === 0 && !this.closed) {
      this.flush();
      this.closed = true;
      this.socket.end();
    }
  }

  private onPeerEnd(): void {
    // A client that half-closes gets its open calls' answers, then the close.
    this.goingAway = true;
    this.closeIfIdle();
  }

  private onSocketClose(): void {
    this.closed = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.abortAll(H2Error.CANCEL);
    const callbacks = this.drainCallbacks;
    this.drainCallbacks = [];
    for (const cb of callbacks) cb();
    this.opts.onClose?.();
  }

  private abortAll(code: number): void {
    const open = [...this.streams.values()];
    this.streams.clear();
    this.blocked.clear();
    this.queuedOctets = 0;
    for (const s of open) {
      s.localClosed = true;
      s.remoteClosed = true;
      s.queue = [];
      s.queuedBytes = 0;
      s.handler?.onReset(code);
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** A gRPC length-prefixed message: the uncompressed flag, the length, the message. */
export function lengthPrefixed(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  message.copy(framed, 5);
  return framed;
}

/** Writes a frame header at `pos`; answers the position after it. */
function putFrameHeader(
  buf: Buffer,
  pos: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): number {
  buf[pos] = (length >>> 16) & 0xff;
  buf[pos + 1] = (length >>> 8) & 0xff;
  buf[pos + 2] = length & 0xff;
  buf[pos + 3] = type;
  buf[pos + 4] = flags;
  buf.writeUInt32BE(streamId, pos + 5);
  return pos + FRAME_HEADER;
}

function u32(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}
