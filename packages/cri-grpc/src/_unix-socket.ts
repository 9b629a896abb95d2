/** Unix socket housekeeping: parent directory, stale socket files, live-server detection, permissions. */
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { connect } from "node:net";
import { dirname } from "node:path";
import { ignoreEnoent } from "@servin/node-kit";

/**
 * Makes `path` ready to bind: creates its directory (0755) and removes a stale
 * socket left by a crashed run. A socket that still accepts connections
 * belongs to a live server and is never taken over.
 */
export async function prepareUnixSocket(path: string): Promise<void> {
  const dir = dirname(path);
  const created = await mkdir(dir, { recursive: true, mode: 0o755 });
  // mkdir's mode is filtered by the umask; say it exactly for the directory we made.
  if (created !== undefined) await chmod(dir, 0o755);

  const stat = await ignoreEnoent(lstat(path));
  if (!stat) return;
  if (!stat.isSocket()) throw new Error(`grpc socket "${path}": the path exists and is not a socket`);
  if (await isAccepting(path)) throw new Error(`grpc socket "${path}" is in use by a live server`);
  await ignoreEnoent(unlink(path));
}

/** True when something accepts connections on the unix socket `path`. */
export function isAccepting(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      socket.destroy();
      // ECONNREFUSED: a socket file nobody listens on (the stale case). EACCES
      // means we cannot tell; assume it is alive rather than delete it.
      resolve(err.code === "EACCES" || err.code === "EPERM");
    });
  });
}

/** Removes the socket file if it is still there (a socket, nothing else). */
export async function removeSocketFile(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (stat?.isSocket()) await unlink(path).catch(() => undefined);
}

export const SOCKET_MODE = 0o660;
