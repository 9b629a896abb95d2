/** A real TCP server on 127.0.0.1 for port-forward tests: echoes, or answers in other ways chosen by the first line. */
import { createServer, type Server, type Socket } from "node:net";

export interface EchoServer {
  port: number;
  sockets: Set<Socket>;
  close(): Promise<void>;
}

/**
 * Echoes everything back and half-closes after the client half-closes. A client whose first bytes
 * are `close\n` gets `bye\n` and a full close from the server side.
 */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    let first = true;
    socket.on("data", (chunk: Buffer) => {
      if (first && chunk.toString().startsWith("close\n")) {
        socket.end("bye\n");
        return;
      }
      first = false;
      socket.write(chunk);
    });
    socket.once("end", () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    sockets,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
