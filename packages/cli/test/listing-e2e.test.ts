/**
 * The listing commands and messages end to end: the built `servin` binary (apps/servin/dist/servin.js)
 * run as a child process with its output piped, against `servin cri start` with the memory backends
 * (objects made through the real HTTP client). Formats parse back (JSON.parse, a YAML parser), -q
 * prints exact IDs, crictl's filters select, --no-trunc shows whole IDs, misspelt commands and flags
 * get a suggestion, and nothing piped carries an ANSI escape or a glyph. A second server pulls through
 * a mirror that answers 404 and the CLI reports "not found".
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CriClient, createCriClient } from "@servin/cri-http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { BINARY, type RunningServin, removeDir, startServin } from "../../../apps/servin/test/_binary.js";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `servin ARGS…` with stdout and stderr piped. NO_COLOR is removed and colours are forced on, so
 * plain output must come from servin noticing the pipe, not from the environment.
 */
function servin(...args: string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "1", TERM: "xterm-256color" };
  delete env.NO_COLOR;
  delete env.CI;
  return new Promise((done) => {
    const child = spawn(process.execPath, [BINARY, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

/** Like servin(), but the command must succeed; with the server's port appended. */
async function ok(...args: string[]): Promise<string> {
  const r = await servin(...args, "--port", String(server.port));
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

const lines = (text: string) => text.split("\n").filter(Boolean);
// ESC, and consola's badges and glyphs (◐ ✔ ✖ ℹ ⚠)
const NOT_PLAIN = /\x1b|[◐✔✖ℹ⚠]| ERROR /;

let server: RunningServin;
let cri: CriClient;
const ids = { web: "", db: "", nginx: "", redis: "", sidecar: "" };

beforeAll(async () => {
  server = await startServin(["--backend", "memory", "--image-backend", "memory"]);
  cri = createCriClient({ baseUrl: server.url });
  await cri.pullImage({ image: { image: "busybox:latest" } });
  await cri.pullImage({ image: { image: "alpine:3" } });
  const pod = async (name: string, namespace: string, app: string) =>
    (
      await cri.runPodSandbox({
        config: { metadata: { name, namespace, uid: `${name}-uid`, attempt: 0 }, labels: { app } },
      })
    ).podSandboxId;
  const container = async (pod: string, name: string, image: string, labels: Record<string, string>) =>
    (
      await cri.createContainer({
        podSandboxId: pod,
        config: { metadata: { name }, image: { image }, labels },
      })
    ).containerId;
  // made one after another, so newest first is: sidecar, redis, nginx; db, web
  ids.web = await pod("web", "ns1", "web");
  ids.db = await pod("db", "ns2", "db");
  ids.nginx = await container(ids.web, "nginx", "busybox:latest", { tier: "front" });
  await cri.startContainer({ containerId: ids.nginx });
  ids.redis = await container(ids.db, "redis", "alpine:3", { tier: "back" });
  ids.sidecar = await container(ids.web, "sidecar", "busybox:latest", { tier: "front", role: "side" });
  await cri.startContainer({ containerId: ids.sidecar });
  await cri.stopContainer({ containerId: ids.sidecar, timeout: 0 });
  await cri.stopPodSandbox({ podSandboxId: ids.db });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (server) await removeDir(server.dir);
});

describe("servin ps", () => {
  it("-q prints the full IDs of running containers, one per line; -a all of them, newest first", async () => {
    expect(await ok("ps", "-q")).toBe(`${ids.nginx}\n`);
    expect(lines(await ok("ps", "-a", "-q"))).toEqual([ids.sidecar, ids.redis, ids.nginx]);
    expect(await ok("ps", "-q", "--state", "exited")).toBe(`${ids.sidecar}\n`);
  });

  it("filters as crictl: state, labels (repeatable, all must match), name regexp, pod, image, --last, --latest", async () => {
    expect(lines(await ok("ps", "-q", "--state", "created"))).toEqual([ids.redis]);
    expect(lines(await ok("ps", "-q", "--state", "Running"))).toEqual([ids.nginx]);
    expect(lines(await ok("ps", "-aq", "--label", "tier=front"))).toEqual([ids.sidecar, ids.nginx]);
    expect(lines(await ok("ps", "-aq", "--label", "tier=front", "--label=role=side"))).toEqual([ids.sidecar]);
    expect(lines(await ok("ps", "-aq", "--name", "^(nginx|redis)$"))).toEqual([ids.redis, ids.nginx]);
    expect(lines(await ok("ps", "-aq", "--pod", ids.web))).toEqual([ids.sidecar, ids.nginx]);
    expect(lines(await ok("ps", "-aq", "--image", "alpine:3"))).toEqual([ids.redis]);
    expect(lines(await ok("ps", "-aq", "--image", "docker.io/library/busybox:latest"))).toEqual([
      ids.sidecar,
      ids.nginx,
    ]);
    expect(lines(await ok("ps", "-q", "--last", "2"))).toEqual([ids.sidecar, ids.redis]);
    expect(lines(await ok("ps", "-q", "--latest"))).toEqual([ids.sidecar]);
    expect(lines(await ok("ps", "-ql"))).toEqual([ids.sidecar]);
  });

  it("-o json and --json print the API's JSON; -o yaml the same document as YAML", async () => {
    const json = JSON.parse(await ok("ps", "-a", "-o", "json"));
    expect(json.containers.map((c: { id: string }) => c.id)).toEqual([ids.sidecar, ids.redis, ids.nginx]);
    expect(json.containers[2]).toMatchObject({ metadata: { name: "nginx" }, state: "CONTAINER_RUNNING" });
    expect(JSON.parse(await ok("ps", "-a", "--json"))).toEqual(json);
    expect(parseYaml(await ok("ps", "-a", "-o", "yaml"))).toEqual(json);
    expect(parseYaml(await ok("ps", "-o", "yaml", "--name", "nosuch"))).toEqual({ containers: [] });
  });

  it("the table truncates IDs to 13 characters; --no-trunc shows them whole", async () => {
    const table = await ok("ps");
    expect(lines(table)[0]).toMatch(/^CONTAINER\s+IMAGE\s+CREATED\s+STATE\s+NAME\s+ATTEMPT\s+POD ID$/);
    expect(table).toContain(ids.nginx.slice(0, 13));
    expect(table).not.toContain(ids.nginx);
    expect(table).toMatch(/ seconds? ago|Less than a second ago|About a minute ago/);
    expect(table).not.toMatch(/\b1 (minutes|seconds|hours) ago/);
    const full = await ok("ps", "--no-trunc", "-o", "table");
    expect(full).toContain(ids.nginx);
    expect(full).toContain(ids.web);
  });

  it("bad values are refused, naming the value and what is allowed", async () => {
    const port = ["--port", String(server.port)];
    const cases: [string[], string][] = [
      [["ps", "--state", "sleeping"], '--state "sleeping": expected created, running, exited or unknown'],
      [["ps", "-o", "xml"], '--output "xml": expected json, yaml or table'],
      [["ps", "--label", "tier"], '--label "tier": expected KEY=VALUE'],
      [["ps", "--last", "two"], '--last "two": expected a whole number'],
      [["ps", "--name", "("], '--name "(": not a valid regular expression'],
      [["pods", "--state", "running"], '--state "running": expected ready or notready'],
      [["inspect", ids.nginx, "-o", "table"], '--output "table": expected json or yaml'],
    ];
    for (const [args, message] of cases) {
      const r = await servin(...args, ...port);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^error: /);
      expect(r.stderr).toContain(message);
    }
  });
});

describe("servin pods", () => {
  it("-q, state, labels, name and namespace regexps, --last, --latest", async () => {
    expect(lines(await ok("pods", "-q"))).toEqual([ids.db, ids.web]);
    expect(lines(await ok("pods", "-q", "--state", "ready"))).toEqual([ids.web]);
    expect(lines(await ok("pods", "-q", "--state", "NotReady"))).toEqual([ids.db]);
    expect(lines(await ok("pods", "-q", "--label", "app=web"))).toEqual([ids.web]);
    expect(lines(await ok("pods", "-q", "--name", "^w"))).toEqual([ids.web]);
    expect(lines(await ok("pods", "-q", "--namespace", "ns2"))).toEqual([ids.db]);
    expect(lines(await ok("pods", "-q", "--last", "1"))).toEqual([ids.db]);
    expect(lines(await ok("pods", "-q", "-l"))).toEqual([ids.db]);
  });

  it("-o json and -o yaml parse to the same document; --no-trunc shows whole IDs", async () => {
    const json = JSON.parse(await ok("pods", "-o", "json"));
    expect(json.items.map((p: { id: string }) => p.id)).toEqual([ids.db, ids.web]);
    expect(parseYaml(await ok("pods", "-o", "yaml"))).toEqual(json);
    expect(await ok("pods")).not.toContain(ids.web);
    expect(await ok("pods", "--no-trunc")).toContain(ids.web);
  });
});

describe("servin images", () => {
  it("-q prints every image's full ID once; -o json|yaml parse; --no-trunc shows whole IDs", async () => {
    const { images } = await cri.listImages({});
    expect(images).toHaveLength(2);
    expect(lines(await ok("images", "-q")).sort()).toEqual(images.map((i) => i.id).sort());
    expect(lines(await ok("image", "ls", "--quiet")).sort()).toEqual(images.map((i) => i.id).sort());
    const json = JSON.parse(await ok("images", "-o", "json"));
    expect(json.images.map((i: { id: string }) => i.id).sort()).toEqual(images.map((i) => i.id).sort());
    expect(parseYaml(await ok("images", "-o", "yaml"))).toEqual(json);
    const alpine = images.find((i) => i.repoTags.includes("docker.io/library/alpine:3"))!;
    expect(await ok("images", "-q", "alpine:3")).toBe(`${alpine.id}\n`);
    expect(await ok("images", "-q", "nosuch:1")).toBe("");
    const id = images[0]!.id;
    expect(await ok("images")).not.toContain(id);
    expect(await ok("images", "--no-trunc")).toContain(id);
  });
});

describe("servin inspect, inspectp, image inspect", () => {
  it("print verbose info decoded (objects, not JSON strings), as JSON or YAML", async () => {
    const json = JSON.parse(await ok("inspect", ids.nginx));
    expect(json.status.id).toBe(ids.nginx);
    expect(typeof json.info.info).toBe("object");
    expect(json.info.info.sandboxID).toBe(ids.web);
    const yaml = parseYaml(await ok("inspect", ids.nginx, "-o", "yaml"));
    expect(yaml.status).toEqual(json.status);
    expect(typeof yaml.info.info).toBe("object");

    const pod = parseYaml(await ok("inspectp", "-o", "yaml", ids.web));
    expect(pod.status).toMatchObject({ id: ids.web, metadata: { name: "web", namespace: "ns1" } });
    expect(typeof pod.info.info).toBe("object");
    expect(JSON.parse(await ok("inspectp", ids.web, "--output", "json")).status.id).toBe(ids.web);

    const image = parseYaml(await ok("image", "inspect", "alpine:3", "-o", "yaml"));
    expect(image.image.repo_tags).toContain("docker.io/library/alpine:3");
    expect(image.info.info.imageSpec.os).toBe("linux");
    expect(JSON.parse(await ok("image", "inspect", "alpine:3"))).toEqual(image);
  });
});

describe("messages", () => {
  it("an unknown command suggests the closest one, exit 1, one plain line", async () => {
    expect(await servin("pul", "busybox")).toEqual({
      code: 1,
      stdout: "",
      stderr: 'error: unknown command "pul": did you mean "pull"?\n',
    });
    const nested = await servin("image", "lss");
    expect(nested.stderr).toBe('error: unknown command "lss" for "servin image": did you mean "ls"?\n');
    const far = await servin("zzzzzzzz");
    expect(far.code).toBe(1);
    expect(far.stderr).toBe('error: unknown command "zzzzzzzz" (servin --help lists them)\n');
  });

  it("an unknown flag names the command and suggests the closest flag", async () => {
    const r = await servin("ps", "--al");
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: 'error: unknown flag "--al" for "servin ps": did you mean "--all"?\n',
    });
    const images = await servin("image", "ls", "--quite");
    expect(images.stderr).toBe(
      'error: unknown flag "--quite" for "servin image ls": did you mean "--quiet"?\n',
    );
    expect((await servin("pods", "--namespce", "x")).stderr).toContain('did you mean "--namespace"?');
  });

  it("help piped is plain text and lists the listing flags", async () => {
    const r = await servin("ps", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(NOT_PLAIN);
    for (const flag of ["--output", "--quiet", "--no-trunc", "--state", "--label", "--last", "--latest"])
      expect(r.stdout).toContain(flag);
  });

  it("errors from the server print plain when piped (no ANSI escapes, badges or glyphs)", async () => {
    const r = await servin("inspect", "nosuch", "--port", String(server.port));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*nosuch.*\n$/);
    for (const out of [r.stderr, (await servin("ps", "--al")).stderr, (await servin("pul")).stderr])
      expect(out).not.toMatch(NOT_PLAIN);
  });
});

describe("servin pull of an image the mirror does not have", () => {
  let mirror: Server;
  let puller: RunningServin | undefined;
  let dir: string;

  beforeAll(async () => {
    // a registry mirror that answers the distribution API's 404 for every manifest
    mirror = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      if (req.url === "/v2/") return res.end("{}");
      res.statusCode = 404;
      res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }));
    });
    await new Promise<void>((ready) => mirror.listen(0, "127.0.0.1", ready));
    const { port } = mirror.address() as { port: number };
    dir = await mkdtemp(join(tmpdir(), "servin-pull404-"));
    const config = join(dir, "config.toml");
    await writeFile(
      config,
      `[registries."docker.io"]\nmirrors = ["http://127.0.0.1:${port}"]\n[images]\nupstream_fallback = false\n`,
    );
    puller = await startServin(["--backend", "memory", "--image-backend", "disk"], { dir, config });
  }, 120_000);

  afterAll(async () => {
    await puller?.stop();
    await new Promise((closed) => mirror?.close(closed));
    if (dir) await removeDir(dir);
  });

  it('says "not found", not that the registry is unreachable, plainly', async () => {
    const r = await servin("pull", "nosuch/image", "--port", String(puller!.port));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: manifest docker\.io\/nosuch\/image:latest: not found in mirror 127\.0\.0\.1:\d+/,
    );
    expect(r.stderr).not.toContain("unreachable");
    expect(r.stdout + r.stderr).not.toMatch(NOT_PLAIN);
  });
});
