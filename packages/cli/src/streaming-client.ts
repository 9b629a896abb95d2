/**
 * The client side of the Kubernetes streaming protocols over WebSocket, as kubectl speaks them:
 * remotecommand `v5.channel.k8s.io` (exec, attach) and channel-framed port-forward (one WebSocket per
 * forwarded connection, `?port=`).
 */
import type { Socket } from "node:net";
import type { TerminalSize } from "@servin/streaming";
import { CHANNEL } from "@servin/streaming/channels";
import WebSocket from "ws";

/** v5 first (stdin half-close with `[255, 0]`), v4 as the fallback kubectl also offers. */
const REMOTE_COMMAND_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;
/** Channel framing for port-forward: kubelet's name for it, then servin's own. */
const PORT_FORWARD_PROTOCOLS = ["v4.channel.k8s.io", "portforward.k8s.io"] as const;

const { stdin: STDIN, stdout: STDOUT, stderr: STDERR, error: ERROR, resize: RESIZE, close: CLOSE } = CHANNEL;
/** Stop reading local input while this much is queued on the WebSocket. */
const HIGH_WATER = 1 << 20;

export type { TerminalSize };

export interface RemoteCommandIo {
  /** Sent on channel 0; its end closes the remote stdin (`[255, 0]`, v5 only). */
  stdin?: NodeJS.ReadableStream | null;
  stdout?: NodeJS.WritableStream | null;
  stderr?: NodeJS.WritableStream | null;
  /** Terminal sizes to send on channel 4 (with a tty: the first one right away). */
  resize?: AsyncIterable<TerminalSize> | null;
  /** Aborting closes the WebSocket (the server then ends the remote process). */
  signal?: AbortSignal;
}

/** How a remote command ended: the command's exit code, or an error the server reported. */
export type RemoteCommandOutcome = { exitCode: number } | { error: string };

/**
 * Parses the metav1.Status kubelet writes on the error channel (v4+): Success is exit code 0,
 * `NonZeroExitCode` carries the code in an `ExitCode` cause, anything else is an error message.
 *
 * @example
 * parseStatus('{"status":"Success"}'); // { exitCode: 0 }
 */
export function parseStatus(text: string): RemoteCommandOutcome {
  let status: {
    status?: string;
    reason?: string;
    message?: string;
    details?: { causes?: { reason?: string; message?: string }[] };
  };
  try {
    status = JSON.parse(text);
  } catch {
    // before v4 the error channel carried the message as plain text
    return { error: text.trim() };
  }
  if (status.status === "Success") return { exitCode: 0 };
  if (status.reason === "NonZeroExitCode") {
    const cause = status.details?.causes?.find((c) => c.reason === "ExitCode");
    const code = Number(cause?.message);
    if (Number.isInteger(code) && code >= 0 && code <= 255) return { exitCode: code };
  }
  return { error: status.message ?? text.trim() };
}

/**
 * Opens a WebSocket and waits for the 101; a refusal becomes an error with the server's status and text.
 * `onMessage` listens from the start: frames that came with the 101 are emitted in the same tick as "open".
 */
async function openWebSocket(
  url: string,
  protocols: readonly string[],
  onMessage: (ws: WebSocket, message: Buffer) => void,
): Promise<WebSocket> {
  const ws = new WebSocket(url.replace(/^http/, "ws"), [...protocols], { perMessageDeflate: false });
  ws.on("message", (message: Buffer) => onMessage(ws, message));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.once("end", () => {
        const text = body.trim();
        reject(new Error(`streaming server refused the session: ${res.statusCode}${text ? ` ${text}` : ""}`));
      });
      res.once("error", () => reject(new Error(`streaming server refused the session: ${res.statusCode}`)));
    });
    ws.once("error", (err) =>
      reject(new Error(`cannot reach the streaming server at ${url}: ${err.message}`)),
    );
  });
  ws.on("error", () => {});
  // Go's net sets TCP_NODELAY; so does kubectl's client: without it Nagle delays every keystroke
  (ws as unknown as { _socket?: Socket })._socket?.setNoDelay(true);
  return ws;
}

/** Sends one frame; pauses `source` while the WebSocket's queue is full. */
function sendFrame(ws: WebSocket, channel: number, data: Buffer, source?: NodeJS.ReadableStream): void {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true }, () => {
    if (source?.isPaused() && ws.bufferedAmount < HIGH_WATER) source.resume();
  });
  if (source && ws.bufferedAmount >= HIGH_WATER) source.pause();
}

/**
 * Runs one exec or attach session on a streaming URL (the answer of Exec/Attach) and resolves with
 * how it ended. Output is written as it arrives; the promise settles once the server has closed.
 *
 * @example
 * const { url } = await cri.exec({ containerId, cmd: ["sh", "-c", "exit 3"], stdout: true, stderr: true });
 * await runRemoteCommand(url, { stdout: process.stdout, stderr: process.stderr }); // { exitCode: 3 }
 */
export async function runRemoteCommand(url: string, io: RemoteCommandIo): Promise<RemoteCommandOutcome> {
  let status = "";
  const ws = await openWebSocket(url, REMOTE_COMMAND_PROTOCOLS, (ws, message) => {
    if (message.length === 0) return;
    const channel = message[0]!;
    const data = message.subarray(1);
    // the server's first frame is an empty "ready" message; nothing to write
    if (data.length === 0) return;
    const target = channel === STDOUT ? io.stdout : channel === STDERR ? io.stderr : undefined;
    if (target) {
      // a slow local consumer (a pipe into `less`) holds back the server, as kubectl does
      if (!target.write(data)) {
        ws.pause();
        target.once("drain", () => ws.resume());
      }
    } else if (channel === ERROR) status += data.toString("utf8");
  });
  const v5 = ws.protocol === "v5.channel.k8s.io";
  const abort = () => ws.close(1000);
  io.signal?.addEventListener("abort", abort, { once: true });
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));

  const stdin = io.stdin;
  const onData = (chunk: Buffer | string) =>
    sendFrame(ws, STDIN, typeof chunk === "string" ? Buffer.from(chunk) : chunk, stdin ?? undefined);
  const onEnd = () => {
    if (v5) sendFrame(ws, CLOSE, Buffer.of(STDIN));
  };
  if (stdin) {
    stdin.on("data", onData);
    stdin.once("end", onEnd);
  }
  if (io.resize) {
    void (async () => {
      for await (const size of io.resize!) {
        if (ws.readyState !== ws.OPEN) break;
        sendFrame(ws, RESIZE, Buffer.from(JSON.stringify({ Width: size.width, Height: size.height })));
      }
    })().catch(() => {});
  }

  await closed;
  io.signal?.removeEventListener("abort", abort);
  if (stdin) {
    stdin.off("data", onData);
    stdin.off("end", onEnd);
  }
  if (status === "") {
    if (io.signal?.aborted) return { error: "the session was cancelled" };
    // before v4 success wrote nothing; v4+ always writes a status
    return v5 || ws.protocol === "v4.channel.k8s.io"
      ? { error: "the streaming session closed without an exit status" }
      : { exitCode: 0 };
  }
  return parseStatus(status);
}

/**
 * Carries one local TCP connection to `port` in the pod over a port-forward URL (channel framing):
 * channel 0 is data both ways, channel 1 errors; the server's first frame on each starts with the
 * port (2 bytes, little-endian). The WebSocket cannot half-close, so the local side's FIN waits for
 * the pod side to finish; the pod side's close ends the local connection.
 * Resolves when both are closed; errors the server reports go to `onError`.
 *
 * @example
 * net.createServer((socket) => void forwardConnection(url, 80, socket, console.error)).listen(8080);
 */
export async function forwardConnection(
  url: string,
  port: number,
  socket: Socket,
  onError: (message: string) => void,
): Promise<void> {
  const target = new URL(url);
  target.searchParams.append("port", String(port));
  socket.pause();
  const prefixed = new Set<number>();
  const onMessage = (ws: WebSocket, message: Buffer) => {
    if (message.length === 0) return;
    const channel = message[0]!;
    let data = message.subarray(1);
    if (!prefixed.has(channel)) {
      prefixed.add(channel);
      data = data.subarray(2);
    }
    if (data.length === 0) return;
    if (channel === 0) {
      if (!socket.write(data)) {
        ws.pause();
        socket.once("drain", () => ws.resume());
      }
    } else if (channel === 1) onError(data.toString("utf8"));
  };
  let ws: WebSocket;
  try {
    ws = await openWebSocket(target.href, PORT_FORWARD_PROTOCOLS, onMessage);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  socket.on("data", (chunk: Buffer) => sendFrame(ws, 0, chunk, socket));
  socket.on("error", () => {});
  socket.once("close", () => ws.close(1000));
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  socket.resume();
  await closed;
  if (!socket.destroyed) socket.end();
  await new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once("close", () => resolve())));
}
