/** Exec, Attach and PortForward of real containers (runc exec, conmon's attach socket, nsenter + nc) through the real streaming server. */
import { createHash } from "node:crypto";
import type { ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { type StreamingRuntime, type StreamingServer, startStreamingServer } from "@servin/streaming";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  channelConnect,
  openStreams,
  readAll,
  readUntil,
  spdyConnect,
  TTY_STREAMS,
} from "../../streaming/test/clients.js";
import { childPids, until } from "../../streaming/test/proc.js";
import {
  canRunReal,
  containerRecord,
  createAndStart,
  createHarness,
  destroyHarnessDirs,
  type Harness,
  leaks,
  runPod,
  sandboxRecord,
} from "./fixtures/harness.js";

const real = canRunReal();
const V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];

describe.skipIf(!real.ok)("streaming sessions of real containers (runc + conmon)", () => {
  let h: Harness;
  let server: StreamingServer;
  let pod: SandboxRecord;
  let hostPod: SandboxRecord;
  const containers = new Map<string, ContainerRecord>();
  const pods = new Map<string, SandboxRecord>();

  const start = async (config: Parameters<typeof containerRecord>[2], s = pod) => {
    const c = await createAndStart(h.backend, containerRecord(s, h.image, config), s);
    containers.set(c.id, c);
    return c;
  };

  beforeAll(async () => {
    h = await createHarness();
    pod = await runPod(h.backend, sandboxRecord());
    hostPod = await runPod(
      h.backend,
      sandboxRecord({ linux: { securityContext: { namespaceOptions: { network: "NODE" } } } }),
    );
    pods.set(pod.id, pod);
    pods.set(hostPod.id, hostPod);
    // What runtime-core's streamingRuntime does, minus the state checks: IDs to records.
    const streaming = h.backend.streaming!;
    const runtime: StreamingRuntime = {
      exec: (spec, io) => streaming.exec(containers.get(spec.containerId)!, spec, io),
      attach: (spec, io) => streaming.attach(containers.get(spec.containerId)!, spec, io),
      portForward: (spec, stream, signal) =>
        streaming.portForward(pods.get(spec.podSandboxId)!, spec.port, stream, signal),
    };
    server = await startStreamingServer({ runtime });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    for (const c of containers.values()) await h.backend.removeContainer(c, undefined).catch(() => {});
    for (const s of pods.values()) await h.backend.removeSandbox(s).catch(() => {});
    expect(await leaks(h)).toEqual([]);
    await h.backend.close();
    destroyHarnessDirs(h);
  }, 60_000);

  it("exec without a tty: stdout and stderr apart, the exit code as NonZeroExitCode, as the container's user", async () => {
    const c = await start({
      command: ["sleep", "3600"],
      linux: { securityContext: { runAsUser: { value: 1234 } } },
    });
    const { url } = server.getExec({
      containerId: c.id,
      cmd: ["sh", "-c", "echo out $(id -u) $PWD; echo err >&2; exit 3"],
      stdout: true,
      stderr: true,
    });
    const client = await spdyConnect(url, V4);
    const error = await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    const stderr = await client.open({ streamtype: "stderr" });
    const [out, err, status] = await Promise.all([readAll(stdout), readAll(stderr), readAll(error)]);
    expect(out).toBe("out 1234 /\n");
    expect(err).toBe("err\n");
    const parsed = JSON.parse(status);
    expect(parsed.reason).toBe("NonZeroExitCode");
    expect(parsed.details.causes).toEqual([{ reason: "ExitCode", message: "3" }]);
    client.close();
  });

  it("exec: closing stdin ends cat, whose output comes back whole", async () => {
    const c = await start({ command: ["sleep", "3600"] });
    const { url } = server.getExec({ containerId: c.id, cmd: ["cat"], stdin: true, stdout: true });
    const client = await spdyConnect(url, V4);
    const error = await client.open({ streamtype: "error" });
    const stdin = await client.open({ streamtype: "stdin" });
    const stdout = await client.open({ streamtype: "stdout" });
    const big = "y".repeat(300_000);
    stdin.end(`hello\n${big}`);
    const [out, status] = await Promise.all([readAll(stdout), readAll(error)]);
    expect(out).toBe(`hello\n${big}`);
    expect(JSON.parse(status).status).toBe("Success");
    client.close();
  });

  it("exec with a tty: the container's terminal starts at the client's size and follows resizes", async () => {
    const c = await start({ command: ["sleep", "3600"] });
    const { url } = server.getExec({
      containerId: c.id,
      cmd: [
        "sh",
        "-c",
        'test -t 0 && echo is-a-tty; while read l; do [ "$l" = q ] && exit 7; stty size; done',
      ],
      stdin: true,
      stdout: true,
      tty: true,
    });
    const client = await spdyConnect(url, V4);
    const { error, stdin, stdout, resize } = await openStreams(client, TTY_STREAMS);
    resize.write(JSON.stringify({ Width: 100, Height: 40 }));
    await readUntil(stdout, "is-a-tty");
    stdin.write("\n");
    expect(await readUntil(stdout, /\d+ \d+/)).toContain("40 100");
    // resize and stdin are separate streams with no order between them: ask until it shows
    resize.write('{"Width":120,"Height":50}\n');
    const resized = readUntil(stdout, "50 120");
    const asking = setInterval(() => stdin.write("\n"), 50);
    await resized.finally(() => clearInterval(asking));
    stdin.write("q\n");
    const status = JSON.parse(await readAll(error));
    expect(status.details.causes[0].message).toBe("7");
    client.close();
  });

  it("exec with a tty: 1 MiB typed faster than the terminal takes it arrives whole and in order", async () => {
    const c = await start({ command: ["sleep", "3600"] });
    const size = 1 << 20;
    const { url } = server.getExec({
      containerId: c.id,
      cmd: ["sh", "-c", `stty raw -echo; echo ready; head -c ${size} | md5sum`],
      stdin: true,
      stdout: true,
      tty: true,
    });
    const client = await spdyConnect(url, V4);
    // a tty session waits for its resize stream, as kubelet's does
    const { error, stdin, stdout, resize } = await openStreams(client, TTY_STREAMS);
    resize.write(JSON.stringify({ Width: 80, Height: 24 }));
    await readUntil(stdout, "ready");
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = 97 + ((i * 7) % 26);
    stdin.write(data);
    const sum = createHash("md5").update(data).digest("hex");
    expect(await readUntil(stdout, sum)).toContain(sum);
    expect(JSON.parse(await readAll(error)).status).toBe("Success");
    client.close();
  });

  it("exec over WebSocket v5: stdin close signal ends cat", async () => {
    const c = await start({ command: ["sleep", "3600"] });
    const { url } = server.getExec({ containerId: c.id, cmd: ["cat"], stdin: true, stdout: true });
    const client = await channelConnect(url, ["v5.channel.k8s.io"]);
    client.send(0, "over websocket\n");
    await client.waitFor(1, "over websocket");
    client.ws.send(Buffer.from([255, 0])); // v5 close signal for stdin
    await client.closed;
    expect(client.text(1)).toBe("over websocket\n");
    expect(JSON.parse(client.text(3)).status).toBe("Success");
  });

  it("a client that goes away kills the exec'd process (no runc exec, no process left in the container)", async () => {
    const c = await start({ command: ["sleep", "3600"] });
    const { url } = server.getExec({
      containerId: c.id,
      cmd: ["sh", "-c", "echo started; exec sleep 4242"],
      stdout: true,
    });
    const client = await spdyConnect(url, V4);
    await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    await readUntil(stdout, "started");
    client.close();
    await until(() => server.stats().activeSessions === 0, "the session to end");
    const ps = await h.backend.execSync(c, ["ps", "-o", "args"], 10);
    expect(Buffer.from(ps.stdout).toString()).not.toContain("sleep 4242");
  });

  it("attach: the container's output, stdin when created with stdin, stdin_once closes its stdin", async () => {
    const c = await start({
      command: ["sh", "-c", "echo ready; while read l; do echo got $l; done; echo eof; sleep 3600"],
      stdin: true,
      stdinOnce: true,
    });
    const { url } = server.getAttach({ containerId: c.id, stdin: true, stdout: true, stderr: true });
    const client = await spdyConnect(url, V4);
    await client.open({ streamtype: "error" });
    const stdin = await client.open({ streamtype: "stdin" });
    const stdout = await client.open({ streamtype: "stdout" });
    await client.open({ streamtype: "stderr" });
    stdin.write("one\n");
    await readUntil(stdout, "got one");
    stdin.end("two\n");
    // stdin_once: the client's end closes the container's stdin, the loop ends
    expect(await readUntil(stdout, "eof")).toContain("got two");
    client.close();
    await until(() => server.stats().activeSessions === 0, "the attach session to end");
  });

  it("attach to a tty container: resize reaches its terminal through conmon", async () => {
    const c = await start({
      command: ["sh", "-c", "while read l; do stty size; done"],
      stdin: true,
      tty: true,
    });
    const { url } = server.getAttach({ containerId: c.id, stdin: true, stdout: true, tty: true });
    const client = await spdyConnect(url, V4);
    await client.open({ streamtype: "error" });
    const stdin = await client.open({ streamtype: "stdin" });
    const stdout = await client.open({ streamtype: "stdout" });
    const resize = await client.open({ streamtype: "resize" });
    resize.write(JSON.stringify({ Width: 91, Height: 33 }));
    const sized = readUntil(stdout, "33 91");
    const asking = setInterval(() => stdin.write("\n"), 50);
    await sized.finally(() => clearInterval(asking));
    client.close();
    await until(() => server.stats().activeSessions === 0, "the attach session to end");
  });

  it("port-forward into the pod's network namespace: concurrent connections, half-close, refused port", async () => {
    await start({ command: ["nc", "-ll", "-p", "8080", "-e", "cat"] });
    const { url } = server.getPortForward({ podSandboxId: pod.id });
    const client = await spdyConnect(url, ["portforward.k8s.io"], { spdystream: true });
    // the listener may take a moment to come up
    const once = async (i: number) => {
      const headers = { port: "8080", requestid: String(i) };
      const error = await client.open({ ...headers, streamtype: "error" });
      error.end();
      const data = await client.open({ ...headers, streamtype: "data" });
      const payload = `conn-${i}:`.padEnd(100_000 + i, "z");
      const echoed = readAll(data);
      data.end(payload);
      const [text, errors] = await Promise.all([echoed, readAll(error)]);
      return { ok: text === payload, errors };
    };
    for (let i = 0; i < 50 && (await once(1000 + i)).errors !== ""; i++)
      await new Promise((r) => setTimeout(r, 100));
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => once(i)));
    expect(results).toEqual(Array(6).fill({ ok: true, errors: "" }));
    // nothing listens on 8081 in the pod (nor, unless by chance, is it the host's: the pod has its own netns)
    const refused = await client.open({ streamtype: "error", port: "8081", requestid: "r" });
    await client.open({ streamtype: "data", port: "8081", requestid: "r" });
    expect(await readAll(refused)).toMatch(/error forwarding port 8081 to pod .*refused/i);
    client.close();
  });

  it("port-forward in a host-network pod reaches the node's port", async () => {
    const { createServer } = await import("node:net");
    const tcp = createServer((s) => s.pipe(s)).listen(0, "127.0.0.1");
    await new Promise((r) => tcp.once("listening", r));
    const port = (tcp.address() as { port: number }).port;
    const spdy = await spdyConnect(server.getPortForward({ podSandboxId: hostPod.id, port: [port] }).url, [
      "portforward.k8s.io",
    ]);
    const headers = { port: String(port), requestid: "0" };
    const error = await spdy.open({ ...headers, streamtype: "error" });
    error.end();
    const data = await spdy.open({ ...headers, streamtype: "data" });
    const echoed = readAll(data);
    data.end("host network\n");
    expect(await echoed).toBe("host network\n");
    spdy.close();
    tcp.close();
  });

  it("leaves no helper process behind (python3, nsenter, nc, runc exec)", async () => {
    await until(() => server.stats().activeSessions === 0, "every session to end");
    await until(() => childPids().length === 0, "helper processes to exit");
    expect(childPids()).toEqual([]);
  });
});
