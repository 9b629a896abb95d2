/**
 * `servin port-forward POD LOCAL:REMOTE…`: listens on 127.0.0.1:LOCAL and carries each accepted
 * connection to REMOTE in the pod's network namespace, one PortForward URL and WebSocket per connection.
 */
import { createServer, type Server, type Socket } from "node:net";
import { defineCommand } from "citty";
import { consola } from "consola";
import { baseUrlOf, connect, connectArgs } from "../connect.js";
import { forwardConnection } from "../streaming-client.js";

export interface PortMapping {
  /** 0: any free port. */
  local: number;
  remote: number;
}

function portOf(text: string, spec: string, allowZero: boolean): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero))
    throw new Error(`port mapping "${spec}": "${text}" is not a port (1-65535)`);
  return port;
}

/**
 * Parses kubectl's port specs: `8080:80`, `80` (same port both sides), `:80` (a free local port).
 *
 * @example
 * parsePortMapping("8080:80"); // { local: 8080, remote: 80 }
 */
export function parsePortMapping(spec: string): PortMapping {
  const parts = spec.split(":");
  if (parts.length > 2) throw new Error(`port mapping "${spec}": expected LOCAL:REMOTE`);
  const remote = portOf(parts.at(-1)!, spec, false);
  if (parts.length === 1) return { local: remote, remote };
  return { local: parts[0] === "" ? 0 : portOf(parts[0]!, spec, true), remote };
}

export const portForwardCommand = defineCommand({
  args: {
    ...connectArgs,
    pod: { type: "positional", description: "Pod sandbox ID or prefix", required: true },
    ports: {
      type: "positional",
      description: "LOCAL:REMOTE, REMOTE or :REMOTE (one or more)",
      required: true,
    },
    address: { type: "string", description: "Local address to listen on", default: "127.0.0.1" },
  },
  async run({ args }) {
    const specs = args._.slice(1);
    const mappings = specs.map(parsePortMapping);
    const cri = connect(args);
    // a wrong pod is an error now, not at the first connection
    const { status } = await cri.podSandboxStatus({ podSandboxId: args.pod });
    if (status.state !== "SANDBOX_READY") throw new Error(`pod sandbox "${args.pod}" is not ready`);
    const servers: Server[] = [];
    const sockets = new Set<Socket>();
    const handle = async (socket: Socket, mapping: PortMapping, local: number) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      consola.log(`Handling connection for ${local}`);
      try {
        const { url } = await cri.portForward({ podSandboxId: status.id, port: [mapping.remote] });
        await forwardConnection(new URL(url, baseUrlOf(args)).href, mapping.remote, socket, (message) =>
          consola.error(message.trim()),
        );
      } catch (err) {
        socket.destroy();
        consola.error(
          `port ${local} -> ${mapping.remote}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    };
    try {
      for (const mapping of mappings) {
        // allowHalfOpen: the local client's FIN must not end the answer still coming from the pod
        const server = createServer({ allowHalfOpen: true, noDelay: true });
        servers.push(server);
        await new Promise<void>((resolve, reject) => {
          server.once("error", (err) =>
            reject(new Error(`cannot listen on ${args.address}:${mapping.local}: ${err.message}`)),
          );
          server.listen(mapping.local, args.address, () => resolve());
        });
        const address = server.address();
        const local = typeof address === "object" && address ? address.port : mapping.local;
        server.on("connection", (socket) => void handle(socket, mapping, local));
        consola.log(`Forwarding from ${args.address}:${local} -> ${mapping.remote}`);
      }
      // until Ctrl-C (or SIGTERM): then stop listening and drop the open connections
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  },
});
