/**
 * The logs route is guarded like every CRI route (bearer token or peer admission), never reads through
 * a symlink put where the log file should be, and serves a bounded number of streams at once.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCriApp, createCriClient, type ListeningServer, listenCriApp } from "../src/index.js";
import { memoryServices } from "./_services.js";

let services: Awaited<ReturnType<typeof memoryServices>>;
let dir: string;
const servers: ListeningServer[] = [];

beforeAll(async () => {
  services = await memoryServices();
  dir = await mkdtemp(join(tmpdir(), "servin-logs-sec-"));
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await services?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function serve(options: Partial<Parameters<typeof createCriApp>[0]> = {}): Promise<string> {
  const app = createCriApp({ runtime: services.runtime, images: services.images, ...options });
  const server = await listenCriApp(app, { host: "127.0.0.1", port: 0 });
  servers.push(server);
  return server.url;
}

async function container(base: string, name: string, token?: string): Promise<{ id: string; path: string }> {
  const cri = createCriClient({ baseUrl: base, ...(token ? { token } : {}) });
  await cri.pullImage({ image: { image: "busybox" } });
  const logDirectory = join(dir, name);
  await mkdir(logDirectory, { recursive: true });
  const { podSandboxId } = await cri.runPodSandbox({
    config: { metadata: { name, namespace: "sec", uid: name }, logDirectory },
  });
  const { containerId } = await cri.createContainer({
    podSandboxId,
    config: { metadata: { name: "c" }, image: { image: "busybox" }, logPath: "0.log" },
  });
  await cri.startContainer({ containerId });
  return { id: containerId, path: join(logDirectory, "0.log") };
}

describe("logs route security", () => {
  it("with a token, a request without it gets 401 and no log", async () => {
    const base = await serve({ token: "s3cret" });
    const c = await container(base, "token", "s3cret");
    await writeFile(c.path, "2026-11-29T10:00:00Z stdout F private\n");
    const denied = await fetch(`${base}/v1/servin/containers/${c.id}/logs`);
    expect(denied.status).toBe(401);
    expect(await denied.text()).not.toContain("private");
    const info = await fetch(`${base}/v1/servin/info`);
    expect(info.status).toBe(401);
    const ok = await fetch(`${base}/v1/servin/containers/${c.id}/logs`, {
      headers: { authorization: "Bearer s3cret" },
    });
    expect(await ok.text()).toBe("private\n");
  });

  it("a symlink in the log file's place is not followed", async () => {
    const base = await serve();
    const c = await container(base, "link");
    const secret = join(dir, "secret.txt");
    await writeFile(secret, "2026-11-29T10:00:00Z stdout F not for you\n");
    await symlink(secret, c.path);
    const r = await fetch(`${base}/v1/servin/containers/${c.id}/logs`);
    const text = await r.text();
    expect(text).not.toContain("not for you");
    expect(r.status).toBe(409);
    expect(JSON.parse(text).error.message).toContain("symbolic link");
  });

  it("streams beyond maxStreams get 429 until one ends", async () => {
    const base = await serve({ containerLogs: { maxStreams: 1, pollMs: 20 } });
    const c = await container(base, "limit");
    await writeFile(c.path, "2026-11-29T10:00:00Z stdout F x\n");
    const controller = new AbortController();
    const first = await fetch(`${base}/v1/servin/containers/${c.id}/logs?follow=1`, {
      signal: controller.signal,
    });
    expect(first.status).toBe(200);
    const second = await fetch(`${base}/v1/servin/containers/${c.id}/logs`);
    expect(second.status).toBe(429);
    expect(((await second.json()) as { error: { code: string } }).error.code).toBe("ResourceExhausted");
    controller.abort();
    await first.body?.cancel().catch(() => {});
    // the server notices the client went away at its next poll
    let status = 429;
    for (let i = 0; i < 100 && status === 429; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const again = await fetch(`${base}/v1/servin/containers/${c.id}/logs`);
      status = again.status;
      await again.text();
    }
    expect(status).toBe(200);
  });
});
