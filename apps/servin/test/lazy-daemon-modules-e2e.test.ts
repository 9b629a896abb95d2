/**
 * The daemon loads what a call needs when it needs it (issue 13, idle memory): the built binary,
 * every module it resolves logged; at start neither prom-client (the /metrics process series), ws nor
 * spdy-transport (the streaming sessions) nor node-pty (tty exec) is loaded; the first /metrics
 * scrape loads prom-client and still shows the calls counted before it.
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createCriGrpcClient } from "@servin/cri-grpc";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertBuilt,
  BINARY,
  collectOutput,
  criStartArgs,
  removeDir,
  stopChild,
  untilListening,
} from "./_binary.js";

const MODULE_LOG = resolve(import.meta.dirname, "../../../packages/cli/test/_module-log.mjs");
const LAZY = ["/prom-client/", "/ws/", "/spdy-transport/", "/node-pty/"];

let dir: string;
let child: ReturnType<typeof spawn>;
let output: () => string;
let url: string;

const loaded = () =>
  output()
    .split("\n")
    .filter((l) => l.startsWith("load "))
    .map((l) => l.slice(5));
const lazyLoaded = () => loaded().filter((u) => LAZY.some((m) => u.includes(m)));

beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), "servin-lazy-"));
  await writeFile(join(dir, "none.toml"), "");
  const args = criStartArgs(dir, 0, join(dir, "none.toml"));
  child = spawn(
    process.execPath,
    ["--import", MODULE_LOG, BINARY, ...args, "--backend", "memory", "--image-backend", "memory"],
    { env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  output = collectOutput(child);
  url = await untilListening(child, output);
});
afterAll(async () => {
  if (child) expect(await stopChild(child, "SIGTERM")).toBe(0);
  if (dir) await removeDir(dir);
});

describe("servin cri start loads lazily", () => {
  it("serves CRI calls without prom-client, ws, spdy-transport or node-pty, and loads prom-client at the first scrape", async () => {
    const cri = createCriGrpcClient(`unix://${join(dir, "run", "servin.sock")}`, { timeoutMs: 60_000 });
    try {
      await cri.version({});
      await cri.listContainers({});
    } finally {
      cri.close();
    }
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // The binary's own modules were logged: the hook ran.
    expect(loaded().some((u) => u.includes("/cri-grpc/"))).toBe(true);
    expect(lazyLoaded()).toEqual([]);

    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    // Counted from the start, before prom-client was there.
    expect(text).toContain('servin_cri_requests_total{transport="grpc",rpc="version",status="OK"} 1');
    expect(text).toContain('servin_cri_requests_total{transport="grpc",rpc="listContainers",status="OK"} 1');
    expect(text).toMatch(/^servin_process_cpu_seconds_total \d/m);
    // The loader hook logs from its own thread: its line may reach us just after the answer did.
    for (let i = 0; i < 500 && !lazyLoaded().some((u) => u.includes("/prom-client/")); i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(lazyLoaded().some((u) => u.includes("/prom-client/"))).toBe(true);
    expect(lazyLoaded().filter((u) => !u.includes("/prom-client/"))).toEqual([]);
  });
});
