/** The Node adapter: serves a CRI app on a TCP address, with clean close and a clear "port taken" error. */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Hono } from "hono";

export interface ListeningServer {
  host: string;
  port: number;
  url: string;
  /** Stops accepting, waits for in-flight requests, then resolves. */
  close(): Promise<void>;
}

/**
 * Listens on host:port (port 0 picks a free one).
 *
 * @example
 * const server = await listenCriApp(createCriApp({ runtime, images }), { host: "127.0.0.1", port: 8080 });
 * console.log(`listening on ${server.url}`);
 * await server.close();
 */
export function listenCriApp(app: Hono, opts: { host: string; port: number }): Promise<ListeningServer> {
  return new Promise((resolve, reject) => {
    const server = serve({
      fetch: app.fetch,
      hostname: opts.host,
      port: opts.port,
      // Node's own whole-request limit (5 min) would cut a large image import mid-way; the app's body
      // read timeout governs bodies instead, and Node's headersTimeout (60 s) still bounds the headers.
      serverOptions: { requestTimeout: 0 },
    });
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE")
        reject(new Error(`cannot listen on ${opts.host}:${opts.port}: address already in use`));
      else if (err.code === "EADDRNOTAVAIL")
        reject(new Error(`cannot listen on ${opts.host}:${opts.port}: address not available`));
      else if (err.code === "EACCES")
        reject(new Error(`cannot listen on ${opts.host}:${opts.port}: permission denied`));
      else reject(err);
    };
    server.once("error", onError);
    server.once("listening", () => {
      server.off("error", onError);
      const address = server.address() as AddressInfo;
      const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
      resolve({
        host: opts.host,
        port: address.port,
        url: `http://${host}:${address.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            // Long-lived event streams would hold close() forever; end idle and streaming sockets.
            (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
            setTimeout(
              () => (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.(),
              2000,
            ).unref();
          }),
      });
    });
  });
}
