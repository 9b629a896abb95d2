import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { readAll, readUntil, spdyConnect } from "./clients.js";
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

describe("port-forward over SPDY/3.1 (portforward.k8s.io)", () => {
  it("carries several concurrent connections on one session, each closed by the client's half-close", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1", port: [echo.port] });
    const client = await spdyConnect(url, ["portforward.k8s.io"], { spdystream: true });
    expect(client.status).toBe(101);
    expect(client.headers["x-stream-protocol-version"]).toBe("portforward.k8s.io");
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const headers = { port: String(echo.port), requestid: String(i) };
        const error = await client.open({ ...headers, streamtype: "error" });
        error.end();
        const data = await client.open({ ...headers, streamtype: "data" });
        const payload = `conn-${i}:`.padEnd(200_000 + i, "z");
        const echoed = readAll(data);
        data.end(payload);
        const [text, errors] = await Promise.all([echoed, readAll(error)]);
        return text === payload && errors === "";
      }),
    );
    expect(results).toEqual(Array(8).fill(true));
    client.close();
  });

  it("passes a close from the pod side (server closes the TCP connection) to the client", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1", port: [] });
    const client = await spdyConnect(url, ["portforward.k8s.io"]);
    const headers = { port: String(echo.port), requestid: "0" };
    const error = await client.open({ ...headers, streamtype: "error" });
    const data = await client.open({ ...headers, streamtype: "data" });
    data.write("close\n");
    expect(await readAll(data)).toBe("bye\n");
    expect(await readAll(error)).toBe("");
    client.close();
  });

  it("reports a refused connection and an unrequested port on the error stream", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1", port: [echo.port, 1] });
    const client = await spdyConnect(url, ["portforward.k8s.io"]);
    const refused = await client.open({ streamtype: "error", port: "1", requestid: "a" });
    await client.open({ streamtype: "data", port: "1", requestid: "a" });
    expect(await readAll(refused)).toMatch(/^error forwarding port 1 to pod pod1: .*ECONNREFUSED/);
    const denied = await client.open({ streamtype: "error", port: "2", requestid: "b" });
    await client.open({ streamtype: "data", port: "2", requestid: "b" });
    expect(await readAll(denied)).toBe('port 2 was not requested for pod sandbox "pod1"');
    const bad = await client.open({ streamtype: "error", port: "http", requestid: "c" });
    await client.open({ streamtype: "data", port: "http", requestid: "c" });
    expect(await readAll(bad)).toMatch(/unable to parse "http" as a port/);
    client.close();
  });

  it("ends the TCP connection when the client drops the whole session mid-stream", async () => {
    const { url } = server.getPortForward({ podSandboxId: "pod1" });
    const client = await spdyConnect(url, ["portforward.k8s.io"]);
    const before = echo.sockets.size;
    const headers = { port: String(echo.port), requestid: "0" };
    await client.open({ ...headers, streamtype: "error" });
    const data = await client.open({ ...headers, streamtype: "data" });
    data.write("ping");
    await readUntil(data, "ping");
    expect(echo.sockets.size).toBe(before + 1);
    client.socket.destroy();
    while (echo.sockets.size > before) await new Promise((r) => setTimeout(r, 10));
    while (server.stats().activeSessions > 0) await new Promise((r) => setTimeout(r, 10));
    expect(echo.sockets.size).toBe(before);
  });
});
