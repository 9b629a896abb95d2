import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { openStreams, readAll, readUntil, spdyConnect, TTY_STREAMS } from "./clients.js";
import { hostProcessRuntime } from "./host-process-runtime.js";

let server: StreamingServer;
beforeAll(async () => {
  server = await startStreamingServer({ runtime: hostProcessRuntime() });
});
afterAll(() => server.close());

const V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];

describe("exec over SPDY/3.1 (remotecommand)", () => {
  it("negotiates v4 and keeps stdout and stderr apart; success is a Success status", async () => {
    const { url } = server.getExec({
      containerId: "c1",
      cmd: ["sh", "-c", "echo out; echo err >&2"],
      stdout: true,
      stderr: true,
    });
    const client = await spdyConnect(url, V4);
    expect(client.status).toBe(101);
    expect(client.headers["x-stream-protocol-version"]).toBe("v4.channel.k8s.io");
    const error = await client.open({ streamtype: "error" });
    error.end();
    const stdout = await client.open({ streamtype: "stdout" });
    const stderr = await client.open({ streamtype: "stderr" });
    const [out, err, status] = await Promise.all([readAll(stdout), readAll(stderr), readAll(error)]);
    expect(out).toBe("out\n");
    expect(err).toBe("err\n");
    expect(JSON.parse(status)).toEqual({ metadata: {}, status: "Success" });
    client.close();
  });

  it("reports a non-zero exit code as NonZeroExitCode with an ExitCode cause (v4)", async () => {
    const { url } = server.getExec({ containerId: "c1", cmd: ["sh", "-c", "exit 3"], stdout: true });
    const client = await spdyConnect(url, V4);
    const error = await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    const [status] = await Promise.all([readAll(error), readAll(stdout)]);
    const parsed = JSON.parse(status);
    expect(parsed.status).toBe("Failure");
    expect(parsed.reason).toBe("NonZeroExitCode");
    expect(parsed.details.causes).toEqual([{ reason: "ExitCode", message: "3" }]);
    client.close();
  });

  it("writes the failure as text before v4 (v2)", async () => {
    const { url } = server.getExec({ containerId: "c1", cmd: ["sh", "-c", "exit 5"], stdout: true });
    const client = await spdyConnect(url, ["v2.channel.k8s.io"]);
    expect(client.headers["x-stream-protocol-version"]).toBe("v2.channel.k8s.io");
    const error = await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    const [status] = await Promise.all([readAll(error), readAll(stdout)]);
    expect(status).toBe("command terminated with non-zero exit code: exit status 5");
    client.close();
  });

  it("half-closing stdin ends cat, whose output comes back whole", async () => {
    const { url } = server.getExec({ containerId: "c1", cmd: ["cat"], stdin: true, stdout: true });
    const client = await spdyConnect(url, V4);
    const error = await client.open({ streamtype: "error" });
    const stdin = await client.open({ streamtype: "stdin" });
    const stdout = await client.open({ streamtype: "stdout" });
    const big = "x".repeat(300_000);
    stdin.end(`hello\n${big}`);
    const [out, status] = await Promise.all([readAll(stdout), readAll(error)]);
    expect(out).toBe(`hello\n${big}`);
    expect(JSON.parse(status).status).toBe("Success");
    client.close();
  });

  it("streams 8 MiB of output to a client that never sends WINDOW_UPDATE (Go's spdystream)", async () => {
    const { url } = server.getExec({
      containerId: "c1",
      cmd: ["head", "-c", String(8 << 20), "/dev/zero"],
      stdout: true,
    });
    const client = await spdyConnect(url, V4, { spdystream: true });
    const error = await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    let bytes = 0;
    stdout.on("data", (chunk: Buffer) => (bytes += chunk.length));
    const [status] = await Promise.all([
      readAll(error),
      new Promise((resolve) => stdout.once("end", resolve)),
    ]);
    expect(bytes).toBe(8 << 20);
    expect(JSON.parse(status).status).toBe("Success");
    client.close();
  });

  it("runs a tty with a real terminal and applies resizes from the resize stream", async () => {
    const { url } = server.getExec({
      containerId: "c1",
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
    // client-go sends the size right after opening the streams: the terminal is created at it
    resize.write(JSON.stringify({ Width: 100, Height: 40 }));
    await readUntil(stdout, "is-a-tty");
    stdin.write("\n");
    expect(await readUntil(stdout, /\d+ \d+/)).toContain("40 100");
    // resize and stdin are separate streams with no order between them (as in kubelet): ask until it shows
    resize.write('{"Width":120,"Height":50}\n');
    const resized = readUntil(stdout, "50 120");
    const asking = setInterval(() => stdin.write("\n"), 20);
    await resized.finally(() => clearInterval(asking));
    stdin.write("q\n");
    const status = JSON.parse(await readAll(error));
    expect(status.details.causes[0].message).toBe("7");
    client.close();
  });

  it("refuses streams the request did not ask for, and a second stream of a kind", async () => {
    const { url } = server.getExec({ containerId: "c1", cmd: ["echo", "only-stdout"], stdout: true });
    const client = await spdyConnect(url, V4);
    await expect(client.open({ streamtype: "stdin" })).rejects.toThrow();
    await expect(client.open({ streamtype: "bogus" })).rejects.toThrow();
    const error = await client.open({ streamtype: "error" });
    await expect(client.open({ streamtype: "error" })).rejects.toThrow();
    const stdout = await client.open({ streamtype: "stdout" });
    const [out, status] = await Promise.all([readAll(stdout), readAll(error)]);
    expect(out).toBe("only-stdout\n");
    expect(JSON.parse(status).status).toBe("Success");
    client.close();
  });

  it("refuses a client with no common protocol (403, naming what it accepts)", async () => {
    const { url } = server.getExec({ containerId: "c1", cmd: ["true"], stdout: true });
    const client = await spdyConnect(url, ["v9.channel.k8s.io"]);
    expect(client.status).toBe(403);
    expect(client.headers["x-accepted-stream-protocol-versions"]).toContain("v4.channel.k8s.io");
    expect(client.body).toContain("unable to negotiate protocol");
  });
});
