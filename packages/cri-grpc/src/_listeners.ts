/** The listening sockets servin owns (unix and TCP); accepted connections are handed to grpc-js. */
import { createServer, isIP, type Server as NetServer, type Socket } from "node:net";

/** Parses "host:port" / "[v6]:port"; the error names the input. */
export function parseHostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : Number.NaN;
  const host = match ? (match[1] ?? match[2] ?? "") : "";
  if (!match || port > 65535 || host === "" || (match[1] !== undefined && isIP(host) !== 6)) {
    throw new Error(`grpc tcp "${address}": expected HOST:PORT, e.g. 127.0.0.1:10010 or [::1]:10010`);
  }
  return { host, port };
}

/** Listens with `onConnection` on a unix path or TCP host/port; resolves once bound. */
export function listen(
  where: { path: string } | { host: string; port: number },
  onConnection: (socket: Socket) => void,
): Promise<NetServer> {
  const server = createServer({ noDelay: true }, onConnection);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, () => {
      server.off("error", reject);
      // Accept errors (EMFILE, …) must not take the process down; the server keeps listening.
      server.on("error", () => undefined);
      resolve(server);
    });
  });
}

/** Stops accepting; resolves at once (connections already accepted are ended by grpc-js). */
export function stopListening(server: NetServer): void {
  if (server.listening) server.close();
}
