// @ts-expect-error spdy-transport ships no types
import transport from "spdy-transport";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { createWebSocketStream } from "ws";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { channelConnect, readAll } from "./clients.js";
import { type EchoServer, startEchoServer } from "./echo-server.js";
import { hostProcessRuntime } from "./host-process-runtime.js";

let server: StreamingServer;
let echo: EchoServer;
beforeAll(async () => {
  server = await startStreamingServer({ runtime: hostProcessRuntime() });
  echo = await startEchoServer();
});
afterAll(async () => {
  await server.close();
  await echo.close();
});

describe("exec over WebSocket (channel.k8s.io family)", () => {
  it("v5: stdout/stderr on channels 1/2, stdin closed by the close signal (255, 0), status on channel 3", async () => {
    const { url } = server.getExec({
      containerId: "c",
      cmd: ["sh", "-c", "cat; echo err >&2; exit 4"],
      stdin: true,
      stdout: true,
      stderr: true,
    });
    const client = await channelConnect(url, ["v5.channel.k8s.io", "v4.channel.k8s.io"]);
    expect(client.protocol).toBe("v5.channel.k8s.io");
    client.send(0, "from stdin\n");
    await client.waitFor(1, "from stdin\n");
    client.ws.send(Buffer.of(255, 0));
    const { code } = await client.closed;
    expect(code).toBe(1000);
    expect(client.text(1)).toBe("from stdin\n");
    expect(client.text(2)).toBe("err\n");
    const status = JSON.parse(client.text(3));
    expect(status.reason).toBe("NonZeroExitCode");
    expect(status.details.causes).toEqual([{ reason: "ExitCode", message: "4" }]);
  });

  it("v4 (binary): Success status; the first message is the empty 'ready' frame on stdout", async () => {
    const { url } = server.getExec({ containerId: "c", cmd: ["echo", "hi"], stdout: true });
    const client = await channelConnect(url, ["v4.channel.k8s.io"]);
    await client.closed;
    expect(client.channels.get(1)?.[0]?.length).toBe(0);
    expect(client.text(1)).toBe("hi\n");
    expect(JSON.parse(client.text(3))).toEqual({ metadata: {}, status: "Success" });
  });

  it("v4.base64: text frames with a channel digit and base64 data, both ways", async () => {
    const { url } = server.getExec({ containerId: "c", cmd: ["head", "-c", "6"], stdin: true, stdout: true });
    const client = await channelConnect(url, ["v4.base64.channel.k8s.io"]);
    expect(client.protocol).toBe("v4.base64.channel.k8s.io");
    client.send(0, Buffer.from([0, 1, 2, 250, 251, 255]));
    await client.closed;
    expect([...Buffer.concat(client.channels.get(1) ?? [])]).toEqual([0, 1, 2, 250, 251, 255]);
    expect(JSON.parse(client.text(3)).status).toBe("Success");
  });

  it("tty: a real terminal, resized from channel 4", async () => {
    const { url } = server.getExec({
      containerId: "c",
      cmd: ["sh", "-c", "read a; stty size; exit 0"],
      stdin: true,
      stdout: true,
      tty: true,
    });
    const client = await channelConnect(url, ["v5.channel.k8s.io"]);
    client.send(4, JSON.stringify({ Width: 132, Height: 43 }));
    client.send(0, "x\r");
    await client.waitFor(1, "43 132");
    await client.closed;
    expect(JSON.parse(client.text(3)).status).toBe("Success");
  });

  it("pre-v4 (channel.k8s.io): a failure is plain text on channel 3", async () => {
    const { url } = server.getExec({ containerId: "c", cmd: ["false"], stdout: true });
    const client = await channelConnect(url, ["channel.k8s.io"]);
    await client.closed;
    expect(client.text(3)).toBe("command terminated with non-zero exit code: exit status 1");
  });

  it("refuses a subprotocol it does not speak (403)", async () => {
    const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
    await expect(channelConnect(url, ["v9.channel.k8s.io"])).rejects.toThrow("403");
  });

  it("attach: output of the running process, stdin into it; the process outlives the session", async () => {
    const runtime = hostProcessRuntime();
    const local = await startStreamingServer({ runtime });
    const container = runtime.startContainer("ctr", ["sh", "-c", "while read line; do echo got-$line; done"]);
    const { url } = local.getAttach({ containerId: "ctr", stdin: true, stdout: true });
    const client = await channelConnect(url, ["v5.channel.k8s.io"]);
    client.send(0, "one\n");
    await client.waitFor(1, "got-one\n");
    client.ws.close();
    await client.closed;
    expect(container.process.exitCode).toBeNull();
    container.process.kill();
    await local.close();
  });
});

describe("port-forward over WebSocket", () => {
  it("v4.channel.k8s.io: port prefix on the first frame of both channels, then data on channel 0", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const client = await channelConnect(`${url}?port=${echo.port}`, ["v4.channel.k8s.io"]);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(echo.port);
    client.send(0, "echo me");
    await client.waitFor(0, "echo me");
    expect(client.channels.get(0)?.[0]).toEqual(prefix);
    expect(client.channels.get(1)?.[0]).toEqual(prefix);
    client.ws.close();
    await client.closed;
  });

  it("closes the WebSocket when the pod side closes the connection", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const client = await channelConnect(`${url}?port=${echo.port}`, ["v4.base64.channel.k8s.io"]);
    client.send(0, "close\n");
    const { code } = await client.closed;
    expect(code).toBe(1000);
    expect(
      Buffer.concat(client.channels.get(0) ?? [])
        .subarray(2)
        .toString(),
    ).toBe("bye\n");
  });

  it("needs ?port= for channel framing (400 naming the parameter)", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    await expect(channelConnect(url, ["v4.channel.k8s.io"])).rejects.toThrow("400");
  });

  it("v2.portforward.k8s.io: SPDY tunnelled in binary messages, many connections", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1", port: [echo.port] });
    const ws = new WebSocket(url.replace(/^http/, "ws"), ["v2.portforward.k8s.io"]);
    await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
    expect(ws.protocol).toBe("v2.portforward.k8s.io");
    const tunnel = createWebSocketStream(ws);
    tunnel.on("error", () => {});
    const connection = transport.connection.create(tunnel, { protocol: "spdy", isServer: false });
    connection.on("error", () => {});
    connection.start(3.1);
    const open = (headers: Record<string, string>) =>
      new Promise<NodeJS.ReadWriteStream & { end(data?: string): void }>((resolve) => {
        const stream = connection.request({ method: "POST", path: "/", headers });
        stream.once("response", () => resolve(stream));
      });
    const texts = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const headers = { port: String(echo.port), requestid: String(i) };
        await open({ ...headers, streamtype: "error" });
        const data = await open({ ...headers, streamtype: "data" });
        const reply = readAll(data);
        data.end(`tunnel-${i}`);
        return reply;
      }),
    );
    expect(texts).toEqual(["tunnel-1", "tunnel-2", "tunnel-3"]);
    ws.close();
  });
});
