/**
 * GET /v1/servin/containers/{id}/logs over real HTTP, on the memory services: the log file is written
 * here as conmon writes it (CRI format), so tail, since, timestamps, format, follow until the
 * container exits and follow across a rotation (rename + new file) are checked byte for byte.
 */
import { appendFile, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  containerLogs,
  createCriApp,
  createCriClient,
  type ListeningServer,
  listenCriApp,
  parseSince,
  servinInfo,
} from "../src/index.js";
import { memoryServices } from "./_services.js";

let services: Awaited<ReturnType<typeof memoryServices>>;
let server: ListeningServer;
let dir: string;
let base: string;

const T = (s: number) => `2026-11-29T10:00:${String(s).padStart(2, "0")}.123456789Z`;

beforeAll(async () => {
  services = await memoryServices();
  dir = await mkdtemp(join(tmpdir(), "servin-logs-"));
  const app = createCriApp({
    runtime: services.runtime,
    images: services.images,
    info: () => ({ podLogRoot: join(dir, "pod-logs") }),
    containerLogs: { pollMs: 20 },
  });
  server = await listenCriApp(app, { host: "127.0.0.1", port: 0 });
  base = server.url;
});
afterAll(async () => {
  await server?.close();
  await services?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** A running container whose log file is `dir`/`name`/c/0.log, with `lines` in it. */
async function container(name: string, lines: string[]): Promise<{ id: string; path: string }> {
  const cri = createCriClient({ baseUrl: base });
  await cri.pullImage({ image: { image: "busybox" } });
  const logDirectory = join(dir, name);
  await mkdir(join(logDirectory, "c"), { recursive: true });
  const path = join(logDirectory, "c", "0.log");
  await writeFile(path, lines.map((l) => `${l}\n`).join(""));
  const { podSandboxId } = await cri.runPodSandbox({
    config: { metadata: { name, namespace: "logs", uid: name }, logDirectory },
  });
  const { containerId } = await cri.createContainer({
    podSandboxId,
    config: { metadata: { name: "c" }, image: { image: "busybox" }, logPath: "c/0.log" },
  });
  await cri.startContainer({ containerId });
  return { id: containerId, path };
}

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, text: await res.text() };
}

const FILE = [
  `${T(1)} stdout F one`,
  `${T(2)} stderr F two`,
  `${T(3)} stdout P thr`,
  `${T(3)} stdout F ee`,
  `${T(4)} stdout F four`,
];

describe("GET /v1/servin/containers/{id}/logs", () => {
  it("answers the content, partial lines joined; --timestamps; format=cri gives the file's lines", async () => {
    const c = await container("plain", FILE);
    expect(await get(`/v1/servin/containers/${c.id}/logs`)).toEqual({
      status: 200,
      text: "one\ntwo\nthree\nfour\n",
    });
    expect((await get(`/v1/servin/containers/${c.id.slice(0, 12)}/logs?timestamps=1`)).text).toBe(
      `${T(1)} one\n${T(2)} two\n${T(3)} three\n${T(4)} four\n`,
    );
    expect((await get(`/v1/servin/containers/${c.id}/logs?format=cri`)).text).toBe(
      FILE.map((l) => `${l}\n`).join(""),
    );
  });

  it("tail=N keeps the last N lines of the file; since keeps lines written at or after a time", async () => {
    const c = await container("tail", FILE);
    expect((await get(`/v1/servin/containers/${c.id}/logs?tail=2&format=cri`)).text).toBe(
      `${FILE[3]}\n${FILE[4]}\n`,
    );
    expect((await get(`/v1/servin/containers/${c.id}/logs?tail=0`)).text).toBe("");
    expect((await get(`/v1/servin/containers/${c.id}/logs?since=${T(3)}`)).text).toBe("three\nfour\n");
    // a duration back from now: these lines are from the past
    expect((await get(`/v1/servin/containers/${c.id}/logs?since=10s`)).text).toBe("");
  });

  it("follow: streams lines as they are appended, across a rotation, and ends when the container exits", async () => {
    const c = await container("follow", [`${T(1)} stdout F before`]);
    const chunks = await containerLogs({ baseUrl: base }, c.id, { follow: true });
    const iterator = chunks[Symbol.asyncIterator]();
    const decoder = new TextDecoder();
    let seen = "";
    const until = async (text: string) => {
      while (!seen.includes(text)) {
        const next = await iterator.next();
        if (next.done) throw new Error(`stream ended before "${text}", got ${JSON.stringify(seen)}`);
        seen += decoder.decode(next.value);
      }
    };
    await until("before\n");
    await appendFile(c.path, `${T(2)} stdout F appended\n`);
    await until("appended\n");
    // kubelet's rotation: the file is renamed, then ReopenContainerLog makes the runtime open a new one
    await appendFile(c.path, `${T(3)} stdout F last of the old file\n`);
    await rename(c.path, `${c.path}.20261129-100003`);
    await writeFile(c.path, `${T(4)} stdout F first of the new file\n`);
    await until("first of the new file\n");
    await appendFile(c.path, `${T(5)} stdout F after the exit`);
    await createCriClient({ baseUrl: base }).stopContainer({ containerId: c.id, timeout: 0 });
    for (let next = await iterator.next(); !next.done; next = await iterator.next())
      seen += decoder.decode(next.value);
    expect(seen).toBe("before\nappended\nlast of the old file\nfirst of the new file\nafter the exit\n");
  });

  it("follow on an exited container sends the file and ends", async () => {
    const c = await container("exited", FILE);
    await createCriClient({ baseUrl: base }).stopContainer({ containerId: c.id, timeout: 0 });
    expect((await get(`/v1/servin/containers/${c.id}/logs?follow=1&tail=1`)).text).toBe("four\n");
  });

  it("a missing container is a JSON 404 naming it; bad parameters are 400s naming them", async () => {
    const missing = await get("/v1/servin/containers/nosuchcontainer/logs");
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.text).error.message).toContain("nosuchcontainer");
    const c = await container("bad", FILE);
    for (const [query, named] of [
      ["tail=x", "tail"],
      ["since=yesterday", "since"],
      ["follow=maybe", "follow"],
      ["format=json", "format"],
      ["lines=3", "lines"],
    ]) {
      const r = await get(`/v1/servin/containers/${c.id}/logs?${query}`);
      expect(r.status, query).toBe(400);
      expect(JSON.parse(r.text).error).toMatchObject({ code: "InvalidArgument" });
      expect(JSON.parse(r.text).error.message).toContain(named);
    }
  });

  it("previous=1 answers the previous instance's log (ATTEMPT-1.log) and never follows; attempt 0 has none", async () => {
    const cri = createCriClient({ baseUrl: base });
    const logDirectory = join(dir, "restarted");
    await mkdir(join(logDirectory, "c"), { recursive: true });
    await writeFile(join(logDirectory, "c", "0.log"), `${T(1)} stdout F first life\n`);
    await writeFile(join(logDirectory, "c", "1.log"), `${T(2)} stdout F second life\n`);
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "restarted", namespace: "logs", uid: "restarted" }, logDirectory },
    });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c", attempt: 1 }, image: { image: "busybox" }, logPath: "c/1.log" },
    });
    await cri.startContainer({ containerId });
    expect(await get(`/v1/servin/containers/${containerId}/logs`)).toEqual({
      status: 200,
      text: "second life\n",
    });
    // follow=1 with previous ends at once: the running instance is not the one read
    expect(await get(`/v1/servin/containers/${containerId}/logs?previous=1&follow=1`)).toEqual({
      status: 200,
      text: "first life\n",
    });
    const chunks = await containerLogs({ baseUrl: base }, containerId, { previous: true, format: "cri" });
    let text = "";
    for await (const chunk of chunks) text += Buffer.from(chunk).toString();
    expect(text).toBe(`${T(1)} stdout F first life\n`);

    const first = await container("first-life", FILE);
    const none = await get(`/v1/servin/containers/${first.id}/logs?previous=1`);
    expect(none.status).toBe(404);
    expect(none.text).toContain("no previous instance");
  });

  it("a container without a log file is refused with a clear message", async () => {
    const cri = createCriClient({ baseUrl: base });
    const { podSandboxId } = await cri.runPodSandbox({
      config: { metadata: { name: "nolog", namespace: "logs", uid: "nolog" } },
    });
    const { containerId } = await cri.createContainer({
      podSandboxId,
      config: { metadata: { name: "c" }, image: { image: "busybox" } },
    });
    const r = await get(`/v1/servin/containers/${containerId}/logs`);
    expect(r.status).toBe(409);
    expect(r.text).toContain("has no log file");
  });

  it("GET /v1/servin/info answers the server's pod log root", async () => {
    expect(await servinInfo({ baseUrl: base })).toEqual({ podLogRoot: join(dir, "pod-logs") });
  });
});

describe("parseSince", () => {
  const now = Date.parse("2026-01-01T01:00:00Z");
  it("takes durations back from now and RFC 3339 times; anything else is undefined", () => {
    expect(parseSince("10s", now)).toBe(now - 10_000);
    expect(parseSince("1h30m", now)).toBe(now - 5_400_000);
    expect(parseSince("250ms", now)).toBe(now - 250);
    expect(parseSince("2026-01-01T00:00:00Z", now)).toBe(Date.parse("2026-01-01T00:00:00Z"));
    expect(parseSince("2026-01-01T00:00:00.123456789+01:00", now)).toBe(
      Date.parse("2025-12-31T23:00:00.123Z"),
    );
    expect(parseSince("10", now)).toBeUndefined();
    expect(parseSince("yesterday", now)).toBeUndefined();
  });
});
