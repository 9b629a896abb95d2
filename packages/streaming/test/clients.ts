/** Test clients for both transports: SPDY/3.1 through spdy-transport (sending streams the way Go's spdystream does) and WebSocket through ws. */
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
// @ts-expect-error spdy-transport ships no types
import transport from "spdy-transport";
import WebSocket from "ws";

export interface SpdyClientStream extends Duplex {
  id: number;
  abort(code?: string): void;
}

export interface SpdyClient {
  status: number;
  headers: Record<string, string>;
  body: string;
  socket: Socket;
  /** Opens a stream carrying only `headers`, as spdystream does (no :method/:path). Resolves on the server's SYN_REPLY. */
  open(headers: Record<string, string>): Promise<SpdyClientStream>;
  close(): void;
}

/** Reads an HTTP/1.1 response head (and, when not 101, its body up to close) from `socket`. */
function readHead(
  socket: Socket,
): Promise<{ status: number; headers: Record<string, string>; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.off("error", reject);
      socket.pause();
      const [statusLine, ...lines] = buffer.subarray(0, end).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      resolve({ status: Number(statusLine!.split(" ")[1]), headers, rest: buffer.subarray(end + 4) });
    };
    socket.on("data", onData);
    socket.once("error", reject);
  });
}

/**
 * `spdystream: true` also makes the client behave like Go's spdystream on flow control: it never
 * sends WINDOW_UPDATE, so a server that waits for one stalls after 64 KiB.
 */
export async function spdyConnect(
  url: string,
  protocols: readonly string[],
  options: { spdystream?: boolean } = {},
): Promise<SpdyClient> {
  const target = new URL(url);
  // Go's net package sets TCP_NODELAY on every TCP connection: so do we, or Nagle adds 40 ms per exchange
  const socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true });
  socket.on("error", () => {});
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.write(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n` +
      protocols.map((p) => `X-Stream-Protocol-Version: ${p}\r\n`).join("") +
      "\r\n",
  );
  const { status, headers, rest } = await readHead(socket);
  if (status !== 101) {
    socket.resume();
    const body = await new Promise<string>((resolve) => {
      let text = rest.toString();
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.once("close", () => resolve(text));
    });
    return {
      status,
      headers,
      body,
      socket,
      open: () => Promise.reject(new Error(`upgrade refused: ${status} ${JSON.stringify(headers)} ${body}`)),
      close: () => socket.destroy(),
    };
  }
  if (rest.length > 0) socket.unshift(rest);
  socket.resume();
  const connection = transport.connection.create(socket, { protocol: "spdy", isServer: false });
  connection.on("error", () => {});
  connection.start(3.1);
  // spdystream's SYN_STREAM has the caller's headers only: drop the pseudo-headers spdy-transport adds
  const framer = connection._spdyState.framer;
  if (options.spdystream) framer.windowUpdateFrame = () => {};
  const headersToDict = framer.headersToDict;
  framer.headersToDict = (h: unknown, preprocess: (headers: Record<string, string>) => void, cb: unknown) =>
    headersToDict.call(
      framer,
      h,
      (headers: Record<string, string>) => {
        preprocess?.(headers);
        if (headers.streamtype !== undefined) {
          for (const key of [":method", ":path", ":version", ":scheme", ":host"]) delete headers[key];
        }
      },
      cb,
    );
  return {
    status,
    headers,
    body: "",
    socket,
    open: (streamHeaders) =>
      new Promise((resolve, reject) => {
        const stream = connection.request(
          { method: "POST", path: "/", headers: streamHeaders },
          (err: Error | null) => {
            if (err) reject(err);
          },
        );
        stream.on("error", () => {});
        stream.once("response", () => resolve(stream));
        stream.once("close", () => reject(new Error("stream closed before the reply")));
      }),
    close: () => socket.destroy(),
  };
}

/** A tty exec's streams (stdin and stdout asked for), in client-go's order. */
export const TTY_STREAMS = ["error", "stdin", "stdout", "resize"] as const;

/**
 * Opens a remote-command session's streams one after the other, in the order given, as client-go does
 * (the server waits for all it expects: error, stdin/stdout/stderr as asked, resize with a tty).
 */
export async function openStreams<T extends string>(
  client: SpdyClient,
  types: readonly T[],
): Promise<Record<T, SpdyClientStream>> {
  const streams = {} as Record<T, SpdyClientStream>;
  for (const streamtype of types) streams[streamtype] = await client.open({ streamtype });
  return streams;
}

/** Reads a stream to its end (or close), as text. */
export function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
    stream.once("end", () => resolve(text));
    stream.once("close", () => resolve(text));
  });
}

/** Reads until `pattern` appears; returns everything read so far. */
export function readUntil(stream: NodeJS.ReadableStream, pattern: string | RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      if (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)) {
        stream.off("data", onData);
        resolve(text);
      }
    };
    stream.on("data", onData);
    stream.once("end", () =>
      reject(new Error(`stream ended before ${String(pattern)}; got ${JSON.stringify(text)}`)),
    );
  });
}

/** A WebSocket client session with kubelet's channel framing; collects output per channel. */
export interface ChannelClient {
  ws: WebSocket;
  protocol: string;
  channels: Map<number, Buffer[]>;
  text(channel: number): string;
  send(channel: number, data: Buffer | string): void;
  waitFor(channel: number, pattern: string | RegExp): Promise<string>;
  closed: Promise<{ code: number }>;
}

export async function channelConnect(url: string, protocols: readonly string[]): Promise<ChannelClient> {
  const ws = new WebSocket(url.replace(/^http/, "ws"), [...protocols]);
  ws.on("error", () => {});
  const channels = new Map<number, Buffer[]>();
  const waiters = new Set<() => void>();
  // frames may arrive with the 101 answer, in the same tick as "open": listen before it
  ws.on("message", (message: Buffer, isBinary: boolean) => {
    if (message.length === 0) return;
    const base64 = ws.protocol.includes("base64");
    if (!isBinary && !base64) throw new Error("text frame on a binary protocol");
    const channel = base64 ? message[0]! - 48 : message[0]!;
    const data = base64 ? Buffer.from(message.subarray(1).toString(), "base64") : message.subarray(1);
    channels.set(channel, [...(channels.get(channel) ?? []), Buffer.from(data)]);
    for (const waiter of waiters) waiter();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`websocket refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
  const base64 = ws.protocol.includes("base64");
  const closed = new Promise<{ code: number }>((resolve) => ws.once("close", (code) => resolve({ code })));
  const text = (channel: number) => Buffer.concat(channels.get(channel) ?? []).toString();
  return {
    ws,
    protocol: ws.protocol,
    channels,
    text,
    send(channel, data) {
      const payload = typeof data === "string" ? Buffer.from(data) : data;
      if (base64) ws.send(String.fromCharCode(48 + channel) + payload.toString("base64"));
      else ws.send(Buffer.concat([Buffer.of(channel), payload]));
    },
    waitFor(channel, pattern) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const current = text(channel);
          if (typeof pattern === "string" ? current.includes(pattern) : pattern.test(current)) {
            waiters.delete(check);
            resolve(current);
          }
        };
        waiters.add(check);
        check();
        void closed.then(() => {
          if (waiters.delete(check))
            reject(new Error(`closed before ${String(pattern)} on ${channel}: ${text(channel)}`));
        });
      });
    },
    closed,
  };
}
