/**
 * Streaming benchmark: exec round-trip latency (SPDY as spdystream sends it, WebSocket v5) and
 * port-forward throughput over a 100 MiB download (SPDY, WebSocket channels, WebSocket-tunnelled SPDY),
 * with a direct TCP read of the same 100 MiB beside it. Run: node --conditions=source --import tsx packages/streaming/_bench.mts
 */
import { connect, createServer } from "node:net";
// @ts-expect-error spdy-transport ships no types
import transport from "spdy-transport";
import WebSocket, { createWebSocketStream } from "ws";
import { startStreamingServer } from "./src/index.js";
import { channelConnect, readAll, spdyConnect } from "./test/clients.js";
import { hostProcessRuntime } from "./test/host-process-runtime.js";

const SIZE = 100 << 20;
const N = Number(process.env.BENCH_N ?? 200);
const server = await startStreamingServer({ runtime: hostProcessRuntime() });
const chunk = Buffer.alloc(1 << 20, 7);
const source = createServer((socket) => {
  socket.on("error", () => {});
  let sent = 0;
  const pump = () => {
    while (sent < SIZE) {
      sent += chunk.length;
      if (!socket.write(chunk)) return void socket.once("drain", pump);
    }
    socket.end();
  };
  pump();
});
await new Promise<void>((r) => source.listen(0, "127.0.0.1", r));
const port = (source.address() as { port: number }).port;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
const ms = (t: bigint) => Number(t) / 1e6;

async function execSpdy(): Promise<number> {
  const t0 = process.hrtime.bigint();
  const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
  const client = await spdyConnect(url, ["v4.channel.k8s.io"], { spdystream: true });
  const error = await client.open({ streamtype: "error" });
  const stdout = await client.open({ streamtype: "stdout" });
  await Promise.all([readAll(error), readAll(stdout)]);
  client.close();
  return ms(process.hrtime.bigint() - t0);
}

async function execWs(): Promise<number> {
  const t0 = process.hrtime.bigint();
  const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
  const client = await channelConnect(url, ["v5.channel.k8s.io"]);
  await client.closed;
  return ms(process.hrtime.bigint() - t0);
}

async function timed(run: () => Promise<number>): Promise<string> {
  const t0 = process.hrtime.bigint();
  const bytes = await run();
  const seconds = ms(process.hrtime.bigint() - t0) / 1000;
  if (bytes !== SIZE) throw new Error(`got ${bytes} bytes`);
  return `${(SIZE / (1 << 20) / seconds).toFixed(0)} MiB/s`;
}

const count = (stream: NodeJS.ReadableStream) =>
  new Promise<number>((resolve) => {
    let n = 0;
    stream.on("data", (c: Buffer) => (n += c.length));
    stream.once("end", () => resolve(n));
  });

async function pfDirect(): Promise<number> {
  return count(connect({ host: "127.0.0.1", port }));
}

async function pfSpdy(): Promise<number> {
  const client = await spdyConnect(server.getPortForward({ podSandboxId: "p" }).url, ["portforward.k8s.io"], {
    spdystream: true,
  });
  const headers = { port: String(port), requestid: "0" };
  (await client.open({ ...headers, streamtype: "error" })).end();
  const data = await client.open({ ...headers, streamtype: "data" });
  const n = await count(data);
  client.close();
  return n;
}

async function pfWsChannel(): Promise<number> {
  const { url } = server.getPortForward({ podSandboxId: "p" });
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}?port=${port}`, ["v4.channel.k8s.io"]);
  let n = -2; // the port prefix
  ws.on("message", (m: Buffer) => {
    if (m[0] === 0) n += m.length - 1;
  });
  await new Promise((r) => ws.once("close", r));
  return n;
}

async function pfWsTunnel(): Promise<number> {
  const { url } = server.getPortForward({ podSandboxId: "p" });
  const ws = new WebSocket(url.replace(/^http/, "ws"), ["v2.portforward.k8s.io"]);
  await new Promise((r) => ws.once("open", r));
  const connection = transport.connection.create(createWebSocketStream(ws), {
    protocol: "spdy",
    isServer: false,
  });
  connection.start(3.1);
  const open = (headers: Record<string, string>) =>
    new Promise<NodeJS.ReadWriteStream>((resolve) => {
      const stream = connection.request({ method: "POST", path: "/", headers });
      stream.once("response", () => resolve(stream));
    });
  const headers = { port: String(port), requestid: "0" };
  await open({ ...headers, streamtype: "error" });
  const n = await count(await open({ ...headers, streamtype: "data" }));
  ws.terminate();
  return n;
}

for (const [name, run] of [
  ["SPDY (spdystream-like client)", execSpdy],
  ["WebSocket v5", execWs],
] as const) {
  for (let i = 0; i < 10; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < N; i++) samples.push(await run());
  console.log(
    `exec round-trip (true), ${name}: p50 ${pct(samples, 0.5).toFixed(2)} ms, p95 ${pct(samples, 0.95).toFixed(2)} ms (n=${N})`,
  );
}
for (const [name, run] of [
  ["direct TCP (reference)", pfDirect],
  ["SPDY portforward.k8s.io", pfSpdy],
  ["WebSocket v4.channel.k8s.io", pfWsChannel],
  ["WebSocket v2.portforward.k8s.io (SPDY tunnel)", pfWsTunnel],
] as const) {
  console.log(`port-forward 100 MiB download, ${name}: ${await timed(run)}`);
}
await server.close();
source.close();
