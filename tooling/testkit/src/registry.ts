/**
 * Starts Debian's `docker-registry` (distribution v2.8) on 127.0.0.1 with its
 * storage in a temp dir, behind a small recording proxy (request log, fault
 * injection), and pushes OCI layouts to it with skopeo.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
}

/** What the proxy does to one request: stall after some body bytes, flip a byte, or answer a status. */
export interface Fault {
  stallAfterBytes?: number;
  corrupt?: boolean;
  /** Flip the body byte at this offset instead (e.g. 9, a gzip header's OS byte: decompression never notices). */
  corruptAt?: number;
  status?: number;
}

export interface StartRegistryOptions {
  /** Require basic auth (htpasswd, bcrypt) with this user. */
  htpasswd?: { username: string; password: string };
}

export interface TestRegistry {
  /** `127.0.0.1:<port>` of the recording proxy: use it in image references. */
  host: string;
  port: number;
  url: string;
  /** `127.0.0.1:<port>` of the registry itself (no log, no faults): push here, benchmark here. */
  directHost: string;
  /** Every request that went through the proxy, in order. */
  requestLog: RequestRecord[];
  /** Sets (or clears) the fault injector of the proxy. */
  setFault(f?: (r: { method: string; path: string }) => Fault | undefined): void;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the usual tiny race between close and reuse is accepted in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** True when the Debian tools the registry helpers need are installed. */
export function registryToolsAvailable(): boolean {
  return ["docker-registry", "skopeo"].every((b) => spawnSync("which", [b]).status === 0);
}

async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/v2/" }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 || res.statusCode === 401);
      });
      req.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer on 127.0.0.1:${port}: ${log()}`);
}

/**
 * Starts a registry; always `stop()` it (in afterAll).
 *
 * @example
 * const reg = await startRegistry();
 * await pushLayout(layoutDir, "layers", `${reg.directHost}/test/layers:v1`);
 * // pull `${reg.host}/test/layers:v1` …
 * await reg.stop();
 */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "servin-registry-"));
  const port = await freePort();
  let auth = "";
  if (opts.htpasswd) {
    const { stdout } = await run("htpasswd", ["-nbB", opts.htpasswd.username, opts.htpasswd.password]);
    await writeFile(join(dir, "htpasswd"), stdout.trim() + "\n");
    auth = `auth:\n  htpasswd:\n    realm: servin-test\n    path: ${join(dir, "htpasswd")}\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, "data")}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: servin-test-secret
${auth}`;
  await writeFile(join(dir, "config.yml"), config);
  const child = spawn("docker-registry", ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => (output = (output + d).slice(-4000)));
  child.stderr?.on("data", (d) => (output = (output + d).slice(-4000)));
  try {
    await waitReady(port, child, () => output);
  } catch (err) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const requestLog: RequestRecord[] = [];
  let fault: ((r: { method: string; path: string }) => Fault | undefined) | undefined;
  const stalled = new Set<http.ServerResponse>();
  const proxy = http.createServer((req, res) => {
    const rec = { method: req.method ?? "GET", path: req.url ?? "/" };
    const f = fault?.(rec);
    if (f?.status) {
      requestLog.push({ ...rec, status: f.status });
      res.writeHead(f.status).end();
      return;
    }
    const up = http.request(
      { host: "127.0.0.1", port, path: req.url, method: req.method, headers: req.headers },
      (ures) => {
        requestLog.push({ ...rec, status: ures.statusCode ?? 0 });
        res.writeHead(ures.statusCode ?? 502, ures.headers);
        let sent = 0;
        let flipped = false;
        ures.on("data", (chunk: Buffer) => {
          if (f?.stallAfterBytes !== undefined && sent + chunk.length > f.stallAfterBytes) {
            const part = chunk.subarray(0, Math.max(0, f.stallAfterBytes - sent));
            if (part.length) res.write(part);
            sent += part.length;
            stalled.add(res);
            ures.destroy();
            return; // hold the connection open, sending nothing more
          }
          if (f?.corrupt && !flipped && chunk.length > 0) {
            const copy = Buffer.from(chunk);
            copy[copy.length - 1]! ^= 0xff;
            flipped = true;
            chunk = copy;
          }
          const at = f?.corruptAt;
          if (at !== undefined && at >= sent && at < sent + chunk.length) {
            chunk = Buffer.from(chunk);
            chunk[at - sent]! ^= 0xff;
          }
          sent += chunk.length;
          res.write(chunk);
        });
        ures.on("end", () => res.end());
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const pport = (proxy.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${pport}`,
    port: pport,
    url: `http://127.0.0.1:${pport}`,
    directHost: `127.0.0.1:${port}`,
    requestLog,
    setFault(f) {
      fault = f;
    },
    async stop() {
      for (const res of stalled) res.destroy();
      proxy.closeAllConnections();
      await new Promise<void>((r) => proxy.close(() => r()));
      child.kill("SIGTERM");
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once("exit", () => r())));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Pushes image `tag` of an OCI layout to `target` (`host:port/name:tag`) with
 * skopeo over plain HTTP, keeping digests; `all` copies every platform of an index.
 */
export async function pushLayout(
  layoutDir: string,
  tag: string,
  target: string,
  opts: { creds?: { username: string; password: string } } = {},
): Promise<void> {
  const args = ["copy", "-q", "--all", "--preserve-digests", "--dest-tls-verify=false"];
  if (opts.creds) args.push("--dest-creds", `${opts.creds.username}:${opts.creds.password}`);
  args.push(`oci:${layoutDir}:${tag}`, `docker://${target}`);
  try {
    await run("skopeo", args, { maxBuffer: 1 << 24 });
  } catch (err) {
    throw new Error(`skopeo ${args.join(" ")} failed: ${(err as { stderr?: string }).stderr ?? err}`);
  }
}
