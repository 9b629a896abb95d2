/** Exec/Attach over SPDY/3.1: kubelet's remotecommand protocols v1-v4, streams told apart by the `streamtype` header. */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { SessionContext } from "./_context.js";
import { rejectUpgrade } from "./_reject.js";
import { runRemoteCommand } from "./_session.js";
import {
  acceptSpdyUpgrade,
  headerValues,
  negotiateProtocol,
  type SpdyConnection,
  type SpdyStream,
} from "./_spdy.js";
import { type SessionOutcome, statusV1, statusV4, terminalSizes } from "./_status.js";
import type { PendingRequest } from "./requests.js";
import type { StreamingRuntime } from "./runtime.js";

/** Newest first, as kubelet lists them. */
const REMOTE_COMMAND_PROTOCOLS = [
  "v4.channel.k8s.io",
  "v3.channel.k8s.io",
  "v2.channel.k8s.io",
  "channel.k8s.io",
] as const;

export function serveSpdyRemoteCommand(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  request: Extract<PendingRequest, { kind: "exec" | "attach" }>,
  runtime: StreamingRuntime,
  context: SessionContext,
): void {
  const protocol = negotiateProtocol(
    headerValues(req, "x-stream-protocol-version"),
    REMOTE_COMMAND_PROTOCOLS,
  );
  if (protocol === undefined) {
    rejectUpgrade(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(headerValues(req, "x-stream-protocol-version"))}, server accepts ${JSON.stringify(REMOTE_COMMAND_PROTOCOLS)}`,
      { "X-Accepted-Stream-Protocol-Versions": [...REMOTE_COMMAND_PROTOCOLS] },
    );
    context.finish();
    return;
  }
  const version = protocol === "" ? 1 : protocol === "channel.k8s.io" ? 1 : Number(protocol[1]);
  const connection = acceptSpdyUpgrade(socket, head, protocol, context);
  connection.on("error", () => {});

  const { streams: wanted } = request;
  const resizable = wanted.tty && version >= 3;
  const expected =
    1 + Number(wanted.stdin) + Number(wanted.stdout) + Number(wanted.stderr) + Number(resizable);
  const received = new Map<string, SpdyStream>();
  const all: SpdyStream[] = [];
  const creation = setTimeout(() => context.abort(), context.streamCreationTimeoutMs);
  context.signal.addEventListener("abort", () => clearTimeout(creation), { once: true });

  connection.on("stream", (stream) => {
    stream.on("error", () => {});
    const type = stream.headers.streamtype ?? "";
    const wantedType =
      type === "error" ||
      (type === "stdin" && wanted.stdin) ||
      (type === "stdout" && wanted.stdout) ||
      (type === "stderr" && wanted.stderr) ||
      (type === "resize" && resizable);
    // a stream the request did not ask for, or a second one of a kind, is refused (RST)
    if (!wantedType || received.has(type) || received.size >= expected) {
      stream.abort();
      return;
    }
    all.push(stream);
    stream.respond(200, {});
    received.set(type, stream);
    // streams we only write to still need their readable side drained to close cleanly
    if (type !== "stdin" && type !== "resize") stream.resume();
    if (received.size === expected) {
      clearTimeout(creation);
      context.run(start());
    }
  });

  const start = async () => {
    const errorStream = received.get("error")!;
    const resizeStream = received.get("resize");
    await runRemoteCommand(
      runtime,
      request,
      {
        stdin: received.get("stdin") ?? null,
        stdout: received.get("stdout") ?? null,
        stderr: received.get("stderr") ?? null,
        resize: resizeStream ? terminalSizes(resizeStream as AsyncIterable<Buffer>) : null,
        writeStatus: (outcome: SessionOutcome) => {
          const payload = version >= 4 ? statusV4(outcome) : statusV1(outcome);
          return new Promise<void>((resolve) => {
            if (payload === null) errorStream.end(resolve);
            else errorStream.end(payload, resolve);
          });
        },
      },
      context.signal,
      context.initialSizeWaitMs,
    );
    closeConnection(connection, all, context);
  };
}

/**
 * Ends every stream and sends GOAWAY (spdy-transport then ends the socket once its frames are
 * flushed). A client that has not closed its side `closeGraceMs` after everything was written is cut off.
 */
function closeConnection(connection: SpdyConnection, streams: SpdyStream[], context: SessionContext): void {
  for (const stream of streams) stream.end();
  connection.end();
  const socket = connection.socket;
  const cutOff = () => setTimeout(() => context.abort(), context.closeGraceMs).unref();
  if (socket.writableFinished) cutOff();
  else socket.once("finish", cutOff);
}
