/**
 * gRPC over our HTTP/2 connection (the "gRPC over HTTP2" protocol): routes a stream by `:path`, reads
 * the one length-prefixed request message (CRI has only unary and server-streaming methods), applies
 * `grpc-timeout`, and answers with response headers, length-prefixed messages and the `grpc-status`
 * trailers — a unary answer as one socket write.
 */
import type { Socket } from "node:net";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { HeaderField } from "../_hpack.js";
import { encodeHeaderBlock as headerBlock } from "../_hpack.js";
import {
  type H2Limits,
  H2ServerConnection,
  type H2Stream,
  type H2StreamHandler,
  lengthPrefixed,
} from "./connection.js";

/** A served method: its decoder and encoder, and the handler that answers a call. */
export interface GrpcMethod {
  /** "/runtime.v1.RuntimeService/Version" */
  path: string;
  responseStream: boolean;
  /** Request bytes → request object; must not throw (a malformed request is the handler's to refuse). */
  decode(bytes: Buffer): unknown;
  /** Response object → bytes. */
  encode(message: unknown): Buffer;
  handler(call: GrpcServerCall): void;
}

export interface GrpcStatusObject {
  code: GrpcStatus;
  details: string;
}

export interface GrpcConnectionOptions {
  /** Method by path. */
  methods: ReadonlyMap<string, GrpcMethod>;
  /** Decides a call before its handler runs (bearer token, untrusted peer): a status refuses it. */
  admit?: (call: GrpcServerCall) => GrpcStatusObject | undefined;
  /** Told of each call refused here (admission, unknown method, bad request framing). */
  onRefused?: (call: GrpcServerCall, status: GrpcStatusObject) => void;
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
  /**
   * Octets of requests not complete yet (a message still arriving) one connection may hold at once,
   * all its streams together; a call that would hold more is refused with RESOURCE_EXHAUSTED.
   * Default: twice `maxReceiveMessageBytes`.
   */
  maxBufferedRequestBytes?: number;
  limits?: Partial<H2Limits>;
  onProtocolError?: (err: Error) => void;
  onClose?: () => void;
}

const RESPONSE_HEADERS = headerBlock([
  { name: ":status", value: "200" },
  { name: "content-type", value: "application/grpc" },
  { name: "grpc-accept-encoding", value: "identity" },
]);
const OK_TRAILERS = headerBlock([{ name: "grpc-status", value: "0" }]);
const EMPTY = Buffer.alloc(0);
/** grpc-message is bounded: a status is for people, not for bulk data. */
const MAX_STATUS_DETAILS = 8 * 1024;

/**
 * Serves gRPC on an accepted socket.
 *
 * @example
 * net.createServer((socket) => serveGrpc(socket, { methods, maxReceiveMessageBytes: 16 << 20, maxSendMessageBytes: 16 << 20 }));
 */
export function serveGrpc(socket: Socket, opts: GrpcConnectionOptions): H2ServerConnection {
  const budget: RequestBudget = {
    held: 0,
    max: opts.maxBufferedRequestBytes ?? 2 * opts.maxReceiveMessageBytes,
  };
  return new H2ServerConnection(socket, {
    limits: opts.limits,
    onProtocolError: opts.onProtocolError,
    onClose: opts.onClose,
    onStream: (stream, endStream) => startCall(stream, endStream, opts, budget),
  });
}

/** A connection's octets of unfinished requests, all its calls together. */
interface RequestBudget {
  held: number;
  readonly max: number;
}

function startCall(
  stream: H2Stream,
  endStream: boolean,
  opts: GrpcConnectionOptions,
  budget: RequestBudget,
): void {
  if (stream.header(":method") !== "POST") {
    httpRefusal(stream, "405");
    return;
  }
  const contentType = stream.header("content-type") ?? "";
  if (contentType !== "application/grpc" && !/^application\/grpc(?:[+;]|$)/.test(contentType)) {
    httpRefusal(stream, "415");
    return;
  }
  const path = stream.header(":path") ?? "";
  const call = new GrpcServerCall(stream, opts.methods.get(path), opts, budget);
  if (!call.method) {
    call.refuse({ code: GrpcStatus.UNIMPLEMENTED, details: `unknown method ${JSON.stringify(path)}` });
    return;
  }
  const timeout = stream.header("grpc-timeout");
  if (timeout !== undefined) {
    const ms = parseGrpcTimeout(timeout);
    if (ms === undefined) {
      call.refuse({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: `invalid grpc-timeout ${JSON.stringify(timeout)}`,
      });
      return;
    }
    call.setDeadline(ms);
  }
  const refusal = opts.admit?.(call);
  if (refusal) {
    call.refuse(refusal);
    return;
  }
  call.listen(endStream);
}

/** A plain HTTP answer for what is not a gRPC request at all. */
function httpRefusal(stream: H2Stream, status: string): void {
  stream.handler = { onData: () => undefined, onReset: () => undefined };
  stream.send(undefined, undefined, headerBlock([{ name: ":status", value: status }]));
}

const TIMEOUT_UNIT_MS = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 } as const;

/** `grpc-timeout`: at most 8 digits and a unit (gRPC over HTTP2). Milliseconds, or undefined if malformed. */
export function parseGrpcTimeout(value: string): number | undefined {
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n * (TIMEOUT_UNIT_MS[m[2] as keyof typeof TIMEOUT_UNIT_MS] as number);
}

/** One call: the request as it arrives, then the answer. It is its stream's handler once it listens. */
export class GrpcServerCall implements H2StreamHandler {
  /** The decoded request (set before the handler runs). */
  request: unknown;
  /** The client cancelled, or the connection is gone. */
  cancelled = false;
  private ended = false;
  private deadline = Number.POSITIVE_INFINITY;
  /** Made when someone listens (a call's scope does, once). */
  private cancelListeners: (() => void)[] | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Octets of this call's request counted in the connection's budget. */
  private held = 0;
  private message: Buffer | undefined;
  private messages = 0;
  /** Writers of a server stream waiting for flow control or the socket; made by the first. */
  private drainWaiters: (() => void)[] | undefined;

  constructor(
    readonly stream: H2Stream,
    readonly method: GrpcMethod | undefined,
    private readonly opts: GrpcConnectionOptions,
    private readonly budget: RequestBudget,
  ) {}

  get path(): string {
    return this.stream.header(":path") ?? "";
  }

  /** When the call's deadline passes (ms since the epoch), Infinity without one. */
  getDeadline(): number {
    return this.deadline;
  }

  on(event: "cancelled", listener: () => void): this {
    if (event !== "cancelled") return this;
    if (this.cancelListeners) this.cancelListeners.push(listener);
    else this.cancelListeners = [listener];
    return this;
  }

  /** @internal */
  setDeadline(ms: number): void {
    this.deadline = Date.now() + ms;
    watchDeadline(this);
  }

  /** @internal The deadline passed (the sweep found it): answer DEADLINE_EXCEEDED and cancel the work. */
  deadlinePassed(): void {
    if (this.ended) return;
    this.end({ code: GrpcStatus.DEADLINE_EXCEEDED, details: "call deadline exceeded" });
    this.fireCancel();
  }

  /** @internal Answers with `status` before any handler ran, and says so. */
  refuse(status: GrpcStatusObject): void {
    this.stream.handler = { onData: () => undefined, onReset: () => this.onReset() };
    this.opts.onRefused?.(this, status);
    this.end(status);
  }

  /** @internal Reads the request, then runs the handler; `ended` when the request had no body at all. */
  listen(ended: boolean): void {
    this.stream.handler = this;
    if (ended) this.onData(EMPTY, true);
  }

  /** @internal H2StreamHandler: the request's DATA. */
  onData(data: Buffer, end: boolean): void {
    if (this.ended) return;
    if (data.length > 0) {
      this.chunks.push(data);
      this.buffered += data.length;
      this.held += data.length;
      this.budget.held += data.length;
      if (this.budget.held > this.budget.max) {
        this.fail(
          GrpcStatus.RESOURCE_EXHAUSTED,
          `the connection holds ${this.budget.held} octets of unfinished requests (max ${this.budget.max}); send fewer large requests at once`,
        );
        return;
      }
      if (!this.takeMessages()) return;
    }
    if (!end) return;
    if (this.buffered > 0) {
      this.fail(
        GrpcStatus.INVALID_ARGUMENT,
        "the request ends inside a message (truncated length-prefixed message)",
      );
      return;
    }
    if (this.messages !== 1 || !this.message) {
      this.fail(
        GrpcStatus.INVALID_ARGUMENT,
        `a ${this.method?.responseStream ? "server-streaming" : "unary"} call takes exactly one request message, got ${this.messages}`,
      );
      return;
    }
    const method = this.method as GrpcMethod;
    this.request = method.decode(this.message);
    this.message = undefined;
    this.release();
    try {
      method.handler(this);
    } catch (err) {
      this.end({ code: GrpcStatus.INTERNAL, details: (err as Error).message });
    }
  }

  /** Splits buffered octets into length-prefixed messages; false when the call was refused. */
  private takeMessages(): boolean {
    while (this.buffered >= 5) {
      let head = this.chunks[0] as Buffer;
      if (head.length < 5) {
        head = Buffer.concat(this.chunks, this.buffered);
        this.chunks = [head];
      }
      const compressed = head[0] as number;
      const length = head.readUInt32BE(1);
      if (compressed !== 0) {
        const encoding = this.stream.header("grpc-encoding");
        // The caller's doing either way, never INTERNAL: servin offers no compression
        // (grpc-accept-encoding: identity), and other flag values do not exist.
        this.fail(
          compressed === 1 ? GrpcStatus.UNIMPLEMENTED : GrpcStatus.INVALID_ARGUMENT,
          compressed === 1
            ? `compressed messages are not supported (grpc-encoding ${JSON.stringify(encoding ?? "")}); send identity`
            : `invalid message flags ${compressed}`,
        );
        return false;
      }
      if (length > this.opts.maxReceiveMessageBytes) {
        this.fail(
          GrpcStatus.RESOURCE_EXHAUSTED,
          `received message larger than max (${length} vs ${this.opts.maxReceiveMessageBytes})`,
        );
        return false;
      }
      // Wait for the whole message before joining its chunks (a 16 MiB message comes in ~1000 frames).
      if (this.buffered < 5 + length) return true;
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks, this.buffered);
      this.messages++;
      this.message = all.subarray(5, 5 + length);
      const rest = all.subarray(5 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      if (this.messages > 1) {
        this.fail(GrpcStatus.INVALID_ARGUMENT, "more than one request message for a call that takes one");
        return false;
      }
    }
    return true;
  }

  /** Gives back this call's share of the connection's budget and drops what it buffered. */
  private release(): void {
    if (this.held === 0) return;
    this.budget.held -= this.held;
    this.held = 0;
    if (this.chunks.length > 0) this.chunks = [];
    this.buffered = 0;
    this.message = undefined;
  }

  private fail(code: GrpcStatus, details: string): void {
    const status = { code, details };
    this.opts.onRefused?.(this, status);
    this.end(status);
  }

  /** The whole answer of a unary call: headers, the message and OK, in one write. */
  sendUnary(message: unknown): void {
    if (this.ended) return;
    const bytes = this.encode(message);
    if (!bytes) return;
    this.ended = true;
    this.clearDeadline();
    this.release();
    this.stream.sendUnary(RESPONSE_HEADERS, bytes, OK_TRAILERS);
  }

  /** One message of a server stream; resolves when it may be followed (flow control, socket buffer). */
  write(message: unknown): Promise<void> {
    if (this.ended) return Promise.resolve();
    const framed = this.frame(message);
    if (!framed) return Promise.resolve();
    const flushed = this.stream.send(RESPONSE_HEADERS, framed, undefined);
    if (flushed && this.stream.writable) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.drainWaiters) this.drainWaiters.push(resolve);
      else this.drainWaiters = [resolve];
      if (flushed) setImmediate(() => this.onDrain());
    });
  }

  /** Ends the call: OK, or the given status (trailers-only when nothing was sent yet). */
  end(status?: GrpcStatusObject): void {
    if (this.ended) return;
    this.ended = true;
    this.clearDeadline();
    this.release();
    if (!status || status.code === GrpcStatus.OK) {
      if (!this.stream.headersSent)
        this.stream.send(undefined, undefined, statusBlock(GrpcStatus.OK, "", true));
      else this.stream.send(undefined, undefined, OK_TRAILERS);
      return;
    }
    this.stream.send(
      undefined,
      undefined,
      statusBlock(status.code, status.details, !this.stream.headersSent),
    );
    this.releaseDrainWaiters();
  }

  private frame(message: unknown): Buffer | undefined {
    const bytes = this.encode(message);
    return bytes && lengthPrefixed(bytes);
  }

  /** The message's protobuf bytes, or undefined after ending the call (it could not be encoded or is too large). */
  private encode(message: unknown): Buffer | undefined {
    let bytes: Buffer;
    try {
      bytes = (this.method as GrpcMethod).encode(message);
    } catch (err) {
      this.end({
        code: GrpcStatus.INTERNAL,
        details: `encoding the answer failed: ${(err as Error).message}`,
      });
      return undefined;
    }
    if (bytes.length > this.opts.maxSendMessageBytes) {
      this.end({
        code: GrpcStatus.RESOURCE_EXHAUSTED,
        details: `answer larger than max (${bytes.length} vs ${this.opts.maxSendMessageBytes})`,
      });
      return undefined;
    }
    return bytes;
  }

  /** @internal H2StreamHandler: the client reset the stream, or the connection is gone. */
  onReset(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.ended = true;
    this.clearDeadline();
    this.release();
    this.releaseDrainWaiters();
    this.fireCancel();
  }

  /** @internal H2StreamHandler: the stream's queued answer left. */
  onDrain(): void {
    if (this.stream.queuedBytes > 0 || !this.drainWaiters?.length) return;
    if (this.stream.writable) {
      this.releaseDrainWaiters();
      return;
    }
    if (this.waitingForSocket) return;
    // The socket's own buffer is full: go on once it drains (or the connection is gone).
    this.waitingForSocket = true;
    this.stream.onSocketDrain(() => {
      this.waitingForSocket = false;
      this.releaseDrainWaiters();
    });
  }

  private waitingForSocket = false;

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    if (!waiters) return;
    this.drainWaiters = undefined;
    for (const w of waiters) w();
  }

  private fireCancel(): void {
    const listeners = this.cancelListeners;
    if (!listeners) return;
    this.cancelListeners = undefined;
    for (const l of listeners) l();
  }

  private clearDeadline(): void {
    if (this.deadline !== Number.POSITIVE_INFINITY) deadlines.delete(this);
  }
}

/**
 * Calls with a deadline, checked by one timer every DEADLINE_SWEEP_MS instead of a timer per call: most
 * calls end within a millisecond, and a timer set and cleared per call was ~4 % of a status call's CPU.
 * A deadline is met to within the sweep (CRI deadlines are seconds to minutes). The timer stops once a
 * sweep finds no call waiting.
 */
const deadlines = new Set<GrpcServerCall>();
const DEADLINE_SWEEP_MS = 25;
let sweeper: NodeJS.Timeout | undefined;

function watchDeadline(call: GrpcServerCall): void {
  deadlines.add(call);
  if (sweeper) return;
  sweeper = setInterval(sweepDeadlines, DEADLINE_SWEEP_MS);
  sweeper.unref();
}

function sweepDeadlines(): void {
  if (deadlines.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
    return;
  }
  const now = Date.now();
  for (const call of deadlines) {
    if (call.getDeadline() > now) continue;
    deadlines.delete(call);
    call.deadlinePassed();
  }
}

/** `grpc-status` and `grpc-message` (percent-encoded, bounded); with `:status` and content-type when trailers-only. */
function statusBlock(code: GrpcStatus, details: string, trailersOnly: boolean): Buffer {
  const fields: HeaderField[] = [];
  if (trailersOnly) {
    fields.push({ name: ":status", value: "200" }, { name: "content-type", value: "application/grpc" });
  }
  fields.push({ name: "grpc-status", value: String(code) });
  if (details)
    fields.push({ name: "grpc-message", value: percentEncode(details.slice(0, MAX_STATUS_DETAILS)) });
  return headerBlock(fields);
}

/** gRPC's percent-encoding of grpc-message: printable ASCII except "%" as is, everything else as %XX of its UTF-8. */
export function percentEncode(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
