/**
 * One servin per root directory. The lock is an abstract unix socket named after
 * the root: the kernel releases it when the process dies, so a crashed run or a
 * reused pid never blocks the next start (a pid file alone cannot tell). The pid
 * file stays beside it for people and tools to read.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join, resolve } from "node:path";

function listen(server: Server, path: string): Promise<void> {
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen({ path, exclusive: true }, () => {
      server.off("error", fail);
      ok();
    });
  });
}

export async function lockRoot(root: string): Promise<() => Promise<void>> {
  await mkdir(root, { recursive: true, mode: 0o711 });
  const pidFile = join(root, "servin.pid");
  const name = `\0servin-${createHash("sha256").update(resolve(root)).digest("hex").slice(0, 32)}`;
  const server = createServer();
  try {
    await listen(server, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    const pid = (await readFile(pidFile, "utf8").catch(() => "")).trim();
    throw new Error(
      `another servin${pid ? ` (pid ${pid})` : ""} is using ${root}; stop it or choose another --root`,
    );
  }
  server.unref();
  await writeFile(pidFile, `${process.pid}\n`, { mode: 0o644 });
  return async () => {
    await rm(pidFile, { force: true });
    await new Promise<void>((done) => server.close(() => done()));
  };
}
