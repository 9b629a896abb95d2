import { afterAll, beforeAll, expect, it } from "vitest";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { channelConnect, readAll, readUntil, spdyConnect } from "./clients.js";
import { type EchoServer, startEchoServer } from "./echo-server.js";
import { hostProcessRuntime } from "./host-process-runtime.js";
import { childPids, openFds, until } from "./proc.js";

let server: StreamingServer;
let echo: EchoServer;
beforeAll(async () => {
  server = await startStreamingServer({ runtime: hostProcessRuntime(), closeGraceMs: 1_000 });
  echo = await startEchoServer();
});
afterAll(async () => {
  await server.close();
  await echo.close();
});

/** One session; `cut` drops the client's connection mid-stream instead of finishing. */
async function session(i: number, cut: boolean): Promise<void> {
  const kind = i % 4;
  if (kind === 0) {
    const { url } = server.getExec({
      containerId: "c",
      cmd: ["sh", "-c", "echo start; cat"],
      stdin: true,
      stdout: true,
    });
    const client = await spdyConnect(url, ["v4.channel.k8s.io"], { spdystream: true });
    const error = await client.open({ streamtype: "error" });
    const stdin = await client.open({ streamtype: "stdin" });
    const stdout = await client.open({ streamtype: "stdout" });
    await readUntil(stdout, "start\n");
    if (cut) return void client.socket.destroy();
    stdin.end(`line ${i}\n`);
    const [status] = await Promise.all([readAll(error), readAll(stdout)]);
    expect(JSON.parse(status).status).toBe("Success");
    client.close();
  } else if (kind === 1) {
    const tty = i % 8 === 1;
    const { url } = server.getExec({
      containerId: "c",
      cmd: ["sh", "-c", "echo start; cat"],
      stdin: true,
      stdout: true,
      tty,
    });
    const client = await channelConnect(url, ["v5.channel.k8s.io"]);
    await client.waitFor(1, "start");
    if (cut) return void client.ws.terminate();
    client.send(0, tty ? "\x04" : `line ${i}\n`);
    if (!tty) client.ws.send(Buffer.of(255, 0));
    await client.closed;
    expect(JSON.parse(client.text(3)).status).toBe("Success");
  } else if (kind === 2) {
    const { url } = server.getPortForward({ podSandboxId: "pod", port: [echo.port] });
    const client = await spdyConnect(url, ["portforward.k8s.io"], { spdystream: true });
    const headers = { port: String(echo.port), requestid: "0" };
    const error = await client.open({ ...headers, streamtype: "error" });
    error.end();
    const data = await client.open({ ...headers, streamtype: "data" });
    data.write(`ping ${i}`);
    await readUntil(data, `ping ${i}`);
    if (cut) return void client.socket.destroy();
    data.end();
    await readAll(data);
    client.close();
  } else {
    const { url } = server.getPortForward({ podSandboxId: "pod" });
    const client = await channelConnect(`${url}?port=${echo.port}`, ["v4.channel.k8s.io"]);
    client.send(0, `ping ${i}`);
    await client.waitFor(0, `ping ${i}`);
    if (cut) return void client.ws.terminate();
    client.ws.close();
    await client.closed;
  }
}

it("200 exec and port-forward sessions, half cut off mid-stream, leave no processes, fds, sockets or tokens", async () => {
  // warm up every path once so lazily opened fds (node-pty, zlib) are in the baseline
  for (let i = 0; i < 4; i++) await session(i, false);
  await session(9, false);
  await until(() => server.stats().activeSessions === 0 && childPids().length === 0, "warm-up to settle");
  const fdsBefore = openFds();

  const sessions = Array.from({ length: 200 }, (_, i) => i);
  for (let batch = 0; batch < sessions.length; batch += 20) {
    await Promise.all(sessions.slice(batch, batch + 20).map((i) => session(i, Math.floor(i / 4) % 2 === 0)));
  }

  await until(() => server.stats().activeSessions === 0, "every session to end", 20_000);
  await until(() => childPids().length === 0, "every child process to exit", 20_000);
  await until(() => echo.sockets.size === 0, "every forwarded connection to close", 20_000);
  expect(server.stats().pendingRequests).toBe(0);
  await until(() => openFds() <= fdsBefore, `fds back to ${fdsBefore} (now ${openFds()})`, 20_000);
  expect(openFds()).toBeLessThanOrEqual(fdsBefore);
}, 120_000);
