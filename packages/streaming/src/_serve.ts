/**
 * What serves an upgraded connection (SPDY/3.1 and WebSocket, with ws and spdy-transport): loaded by
 * the server at its first upgrade, so a runtime that never streams never pays for these modules.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { SessionContext } from "./_context.js";
import { serveSpdyPortForward } from "./_spdy-portforward.js";
import { serveSpdyRemoteCommand } from "./_spdy-remotecommand.js";
import { serveWebSocketPortForward, serveWebSocketRemoteCommand } from "./_websocket.js";
import type { PendingRequest } from "./requests.js";
import type { StreamingRuntime } from "./runtime.js";

export interface UpgradeServer {
  serve(
    spdy: boolean,
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    request: PendingRequest,
    runtime: StreamingRuntime,
    context: SessionContext,
  ): void;
  close(): void;
}

export function createUpgradeServer(): UpgradeServer {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 << 20 });
  return {
    serve(spdy, req, socket, head, request, runtime, context) {
      if (request.kind === "portforward") {
        if (spdy) serveSpdyPortForward(req, socket, head, request, runtime, context);
        else serveWebSocketPortForward(wss, req, socket, head, request, runtime, context);
      } else if (spdy) {
        serveSpdyRemoteCommand(req, socket, head, request, runtime, context);
      } else {
        serveWebSocketRemoteCommand(wss, req, socket, head, request, runtime, context);
      }
    },
    close: () => wss.close(),
  };
}
