/** Exec/Attach and PortForward over WebSocket: kubelet's channel framing (binary or base64), v5's close signal, and SPDY tunnelled for v2 port-forward. */
import type { IncomingMessage } from "node:http";
import { Duplex, PassThrough, Writable } from "node:stream";
import { createWebSocketStream, type WebSocket, type WebSocketServer } from "ws";
import type { SessionContext } from "./_context.js";
import { rejectUpgrade } from "./_reject.js";
import { endWritable, runRemoteCommand } from "./_session.js";
import { createSpdyServerConnection } from "./_spdy.js";
import { servePortForwardConnection } from "./_spdy-portforward.js";
import { type SessionOutcome, statusV1, statusV4, terminalSizes } from "./_status.js";
import { CHANNEL } from "./channels.js";
import { type PendingRequest, parsePort } from "./requests.js";
import type { StreamingRuntime } from "./runtime.js";

const { stdin: STDIN, stdout: STDOUT, stderr: STDERR, error: ERROR, resize: RESIZE, close: CLOSE } = CHANNEL;

/** Subprotocols for Exec/Attach: name -> [binary framing, v4+ status]. "" is a client that offered none. */
const REMOTE_COMMAND: Record<string, { binary: boolean; v4: boolean; v5: boolean }> = {
  "v5.channel.k8s.io": { binary: true, v4: true, v5: true },
  "v4.channel.k8s.io": { binary: true, v4: true, v5: false },
  "v4.base64.channel.k8s.io": { binary: false, v4: true, v5: false },
  "channel.k8s.io": { binary: true, v4: false, v5: false },
  "base64.channel.k8s.io": { binary: false, v4: false, v5: false },
  "": { binary: true, v4: false, v5: false },
};

/**
 * Subprotocols for PortForward with channel framing (kubelet: "", v4.channel.k8s.io, v4.base64.channel.k8s.io;
 * servin also takes plain `portforward.k8s.io` as binary channels), and `v2.portforward.k8s.io`, which
 * client-go (1.30+) uses to tunnel a SPDY port-forward session through WebSocket binary messages.
 */
const PORT_FORWARD: Record<string, { binary: boolean; tunnel: boolean }> = {
  "v2.portforward.k8s.io": { binary: true, tunnel: true },
  "v4.channel.k8s.io": { binary: true, tunnel: false },
  "v4.base64.channel.k8s.io": { binary: false, tunnel: false },
  "portforward.k8s.io": { binary: true, tunnel: false },
  "": { binary: true, tunnel: false },
};

const WEBSOCKET_REMOTE_COMMAND_PROTOCOLS = Object.keys(REMOTE_COMMAND).filter((p) => p !== "");
const WEBSOCKET_PORT_FORWARD_PROTOCOLS = Object.keys(PORT_FORWARD).filter((p) => p !== "");

export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? "").toLowerCase() === "websocket";
}

/** golang.org/x/net/websocket's choice: the first protocol the client offers that the server has. */
function pickProtocol(req: IncomingMessage, supported: readonly string[]): string | undefined {
  const header = req.headers["sec-websocket-protocol"];
  if (header === undefined || header.trim() === "") return "";
  const offered = header.split(",").map((p) => p.trim());
  return offered.find((p) => supported.includes(p));
}

function upgrade(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  protocol: string,
  context: SessionContext,
  then: (ws: WebSocket) => void,
): void {
  context.track(socket);
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on("error", () => {});
    context.signal.addEventListener("abort", () => ws.terminate(), { once: true });
    if (ws.protocol !== protocol) {
      ws.close(1002, "subprotocol mismatch");
      return;
    }
    then(ws);
  });
}

/** A writable channel: each write becomes one message prefixed by the channel (byte, or digit + base64). */
class ChannelWriter extends Writable {
  constructor(
    private readonly ws: WebSocket,
    private readonly channel: number,
    private readonly binary: boolean,
  ) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    send(this.ws, this.channel, this.binary, chunk, callback);
  }
}

function send(
  ws: WebSocket,
  channel: number,
  binary: boolean,
  data: Buffer,
  callback: (error?: Error | null) => void = () => {},
): void {
  // a client that has gone away drops the data; the session's signal ends the rest
  if (ws.readyState !== ws.OPEN) {
    callback();
    return;
  }
  if (binary) {
    ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true }, () => callback());
  } else {
    ws.send(String.fromCharCode(48 + channel) + data.toString("base64"), { binary: false }, () => callback());
  }
}

/** Splits an incoming message into [channel, payload]; undefined for an empty or undecodable message. */
function receive(message: Buffer, isBinary: boolean, binary: boolean): [number, Buffer] | undefined {
  if (message.length === 0) return undefined;
  if (binary || isBinary) return [message[0]!, message.subarray(1)];
  const channel = message[0]! - 48;
  const text = message.subarray(1).toString("latin1");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  return [channel, Buffer.from(text, "base64")];
}

/** Feeds `data` into `target`, pausing the whole socket while the target is full (kubelet blocks its reader the same way). */
function deliver(ws: WebSocket, target: PassThrough, data: Buffer): void {
  if (target.writableEnded || target.destroyed) return;
  if (!target.write(data)) {
    ws.pause();
    target.once("drain", () => ws.resume());
  }
}

export function serveWebSocketRemoteCommand(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  request: Extract<PendingRequest, { kind: "exec" | "attach" }>,
  runtime: StreamingRuntime,
  context: SessionContext,
): void {
  const protocol = pickProtocol(req, WEBSOCKET_REMOTE_COMMAND_PROTOCOLS);
  if (protocol === undefined) {
    rejectUpgrade(
      socket,
      403,
      `requested protocol(s) are not supported: ${req.headers["sec-websocket-protocol"]}; supports ${WEBSOCKET_REMOTE_COMMAND_PROTOCOLS.join(", ")}`,
    );
    context.finish();
    return;
  }
  const mode = REMOTE_COMMAND[protocol]!;
  upgrade(wss, req, socket, head, protocol, context, (ws) => {
    const { streams } = request;
    const stdin = streams.stdin ? new PassThrough() : null;
    const resize = streams.tty ? new PassThrough() : null;
    const stdout = streams.stdout ? new ChannelWriter(ws, STDOUT, mode.binary) : null;
    const stderr = streams.stderr ? new ChannelWriter(ws, STDERR, mode.binary) : null;
    for (const stream of [stdin, resize, stdout, stderr]) stream?.on("error", () => {});
    ws.on("message", (message: Buffer, isBinary: boolean) => {
      const frame = receive(message, isBinary, mode.binary);
      if (frame === undefined) return;
      const [channel, data] = frame;
      if (channel === STDIN && stdin) deliver(ws, stdin, data);
      else if (channel === RESIZE && resize) deliver(ws, resize, data);
      else if (channel === CLOSE && mode.v5 && data.length === 1) {
        if (data[0] === STDIN) stdin?.end();
        if (data[0] === RESIZE) resize?.end();
      }
    });
    ws.once("close", () => {
      stdin?.end();
      resize?.end();
    });
    // kubelet tells the client the session is up with an empty message on the lowest writable channel
    send(ws, stdout ? STDOUT : stderr ? STDERR : ERROR, mode.binary, Buffer.alloc(0));
    const writeStatus = async (outcome: SessionOutcome) => {
      const payload = mode.v4 ? statusV4(outcome) : statusV1(outcome);
      if (payload !== null) {
        await new Promise<void>((resolve) =>
          send(ws, ERROR, mode.binary, Buffer.from(payload), () => resolve()),
        );
      }
    };
    context.run(
      runRemoteCommand(
        runtime,
        request,
        { stdin, stdout, stderr, resize: resize ? terminalSizes(resize) : null, writeStatus },
        context.signal,
        context.initialSizeWaitMs,
      ).finally(() => closeWebSocket(ws, context)),
    );
  });
}

function closeWebSocket(ws: WebSocket, context: SessionContext): void {
  // ws sends the close frame after the queued data and destroys the socket if the client has not
  // answered 30 s later; a client that stops reading meanwhile is ended by the idle timeout
  if (ws.readyState === ws.OPEN) ws.close(1000);
  else context.abort();
}

/** Parses `?port=80&port=443` (and comma lists), as kubelet's NewV4Options does. */
function queryPorts(req: IncomingMessage): number[] | Error {
  const url = new URL(req.url ?? "/", "http://streaming");
  const values = url.searchParams.getAll("port");
  if (values.length === 0) return new Error(`query parameter "port" is required`);
  const ports: number[] = [];
  for (const value of values) {
    if (value === "") return new Error(`query parameter "port" cannot be empty`);
    for (const text of value.split(",")) {
      const port = parsePort(text);
      if (port instanceof Error) return port;
      ports.push(port);
    }
  }
  return ports;
}

export function serveWebSocketPortForward(
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  request: Extract<PendingRequest, { kind: "portforward" }>,
  runtime: StreamingRuntime,
  context: SessionContext,
): void {
  const protocol = pickProtocol(req, WEBSOCKET_PORT_FORWARD_PROTOCOLS);
  if (protocol === undefined) {
    rejectUpgrade(
      socket,
      403,
      `requested protocol(s) are not supported: ${req.headers["sec-websocket-protocol"]}; supports ${WEBSOCKET_PORT_FORWARD_PROTOCOLS.join(", ")}`,
    );
    context.finish();
    return;
  }
  const mode = PORT_FORWARD[protocol]!;
  if (mode.tunnel) {
    upgrade(wss, req, socket, head, protocol, context, (ws) => {
      const tunnel = createWebSocketStream(ws);
      tunnel.on("error", () => {});
      servePortForwardConnection(createSpdyServerConnection(tunnel), request, runtime, context);
    });
    return;
  }
  const ports = queryPorts(req);
  const denied =
    ports instanceof Error
      ? undefined
      : ports.find((p) => request.ports.length > 0 && !request.ports.includes(p));
  if (ports instanceof Error || denied !== undefined) {
    const message =
      ports instanceof Error
        ? `port-forward: ${ports.message}`
        : `port-forward: port ${denied} was not requested for pod sandbox "${request.podSandboxId}"`;
    rejectUpgrade(socket, 400, message);
    context.finish();
    return;
  }
  upgrade(wss, req, socket, head, protocol, context, (ws) => {
    const inputs = ports.map(() => new PassThrough());
    ws.on("message", (message: Buffer, isBinary: boolean) => {
      const frame = receive(message, isBinary, mode.binary);
      if (frame === undefined) return;
      const [channel, data] = frame;
      // even channels carry data (port i on channel 2i); the client never writes on error channels
      if (channel % 2 === 0 && channel / 2 < inputs.length) deliver(ws, inputs[channel / 2]!, data);
    });
    ws.once("close", () => {
      for (const input of inputs) input.end();
    });
    const forwards = ports.map(async (port, index) => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16LE(port);
      send(ws, 2 * index, mode.binary, prefix);
      send(ws, 2 * index + 1, mode.binary, prefix);
      const output = new ChannelWriter(ws, 2 * index, mode.binary);
      output.on("error", () => {});
      const input = inputs[index]!;
      const duplex = Duplex.from({ readable: input, writable: output });
      duplex.on("error", () => {});
      try {
        await runtime.portForward({ podSandboxId: request.podSandboxId, port }, duplex, context.signal);
        await endWritable(output, context.signal);
      } catch (cause) {
        const message = cause instanceof Error ? cause.message : String(cause);
        send(
          ws,
          2 * index + 1,
          mode.binary,
          Buffer.from(`error forwarding port ${port} to pod ${request.podSandboxId}: ${message}`),
        );
      }
    });
    context.run(Promise.all(forwards).finally(() => closeWebSocket(ws, context)));
  });
}
