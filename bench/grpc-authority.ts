/**
 * Benchmark (not a test): what the `:authority` normalisation costs.
 *
 * 1. Per-call latency of sequential unary Version calls over ONE HTTP/2
 *    connection (Node's http2 client, gRPC framing by hand), side by side in
 *    the same run: a plain grpc-js server bound the ordinary way (clients send
 *    `localhost`) against servin's server, which owns the socket and rewrites
 *    every request's HEADERS — once with the socket path as authority (what
 *    crictl/kubelet ≤ 1.29 send), once with `localhost`. Same handlers on both
 *    sides; only the connection path differs. p50/p99 and the ratio.
 * 2. The rewrite alone: header blocks per second through decode + re-encode +
 *    re-frame, and through the whole connection wrapper, with blocks captured
 *    from Node's HTTP/2 client (Huffman, dynamic table) as crictl would send them.
 *
 * Run: pnpm bench:grpc  [--calls 3000] [--rounds 3]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type ClientHttp2Session, connect } from "node:http2";
import { createRequire } from "node:module";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Duplex, PassThrough } from "node:stream";
// bench/ is not a workspace package: import the packages' sources directly.
import { frameHeaderBlock, rewriteAuthority } from "../packages/cri-grpc/src/_authority-rewrite.js";
import { implementService } from "../packages/cri-grpc/src/_handlers.js";
import { encodeHeaderBlock, HpackDecoder } from "../packages/cri-grpc/src/_hpack.js";
import { IMAGE_METHODS, RUNTIME_METHODS } from "../packages/cri-grpc/src/_rpc-table.js";
import { createCriGrpcServer } from "../packages/cri-grpc/src/index.js";
import { criServiceDefinitions } from "../packages/cri-grpc/src/proto.js";
import { createImageService, createMemoryImageBackend } from "../packages/image-store/src/index.js";
import { silentLogger } from "../packages/node-kit/src/index.js";
import {
  createMemoryBackend,
  createMemoryStore,
  createRuntimeService,
} from "../packages/runtime-core/src/index.js";

// grpc-js is a dependency of @servin/cri-grpc, not of the repository root.
const grpc = createRequire(new URL("../packages/cri-grpc/package.json", import.meta.url))(
  "@grpc/grpc-js",
) as typeof import("../packages/cri-grpc/node_modules/@grpc/grpc-js/build/src/index.js");
const { Server, ServerCredentials } = grpc;

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CALLS = arg("calls", 3000);
const ROUNDS = arg("rounds", 3);
const WARMUP = 300;

const dir = mkdtempSync(join(tmpdir(), "servin-bench-grpc-"));
const images = await createImageService({ backend: createMemoryImageBackend() });
const runtime = await createRuntimeService({
  backend: createMemoryBackend(),
  images,
  store: createMemoryStore(),
});

// servin: owns the socket, every connection through the authority rewrite.
const servinSocket = join(dir, "servin.sock");
const servin = createCriGrpcServer({ runtime, images, socketPath: servinSocket });
await servin.listen();

// The reference: grpc-js bound the ordinary way, with the very same handlers.
const plainSocket = join(dir, "plain.sock");
const plain = new Server();
const ctx = {
  runtime,
  images,
  apiVersion: "v1" as const,
  versionInfo: {},
  logger: silentLogger,
  scopes: new Set<never>(),
};
const defs = criServiceDefinitions("v1");
plain.addService(defs.RuntimeService, implementService(defs.RuntimeService, RUNTIME_METHODS, ctx));
plain.addService(defs.ImageService, implementService(defs.ImageService, IMAGE_METHODS, ctx));
await new Promise<void>((resolve, reject) =>
  plain.bindAsync(`unix://${plainSocket}`, ServerCredentials.createInsecure(), (err) =>
    err ? reject(err) : resolve(),
  ),
);

const versionDef = defs.RuntimeService.Version as NonNullable<typeof defs.RuntimeService.Version>;
const body = versionDef.requestSerialize({ version: "v1" });
const request = Buffer.alloc(5 + body.length);
request.writeUInt32BE(body.length, 1);
body.copy(request, 5);

function call(session: ClientHttp2Session, authority: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": versionDef.path,
      ":authority": authority,
      "content-type": "application/grpc",
      "user-agent": "grpc-go/1.51.0",
      te: "trailers",
    });
    let status: string | undefined;
    stream.on("trailers", (t) => {
      status = String(t["grpc-status"]);
    });
    stream.on("data", () => undefined);
    stream.on("error", reject);
    stream.on("close", () => (status === "0" ? resolve() : reject(new Error(`grpc-status ${status}`))));
    stream.end(request);
  });
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

const sides: [name: string, socketPath: string, authority: string][] = [
  ["grpc-js bound, authority localhost (reference)", plainSocket, "localhost"],
  ["servin rewrite, authority = socket path", servinSocket, servinSocket],
  ["servin rewrite, authority localhost", servinSocket, "localhost"],
];
const sessions = sides.map(([, socketPath]) =>
  connect("http://localhost", { createConnection: () => netConnect(socketPath) }),
);
const samples: number[][] = sides.map(() => []);
// Calls are interleaved (one per side in turn, the order rotating), so that the noise of a
// shared machine falls on every side alike; each side keeps its one long-lived connection.
for (let i = 0; i < WARMUP; i++) {
  for (const [k, [, , authority]] of sides.entries())
    await call(sessions[k] as ClientHttp2Session, authority);
}
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < CALLS; i++) {
    for (let j = 0; j < sides.length; j++) {
      const k = (i + j) % sides.length;
      const t0 = process.hrtime.bigint();
      await call(sessions[k] as ClientHttp2Session, (sides[k] as (typeof sides)[number])[2]);
      (samples[k] as number[]).push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
}
for (const session of sessions) session.close();

console.log(
  `\nunary Version over one HTTP/2 connection, ${ROUNDS * CALLS} sequential calls per side, interleaved`,
);
console.log(`${"side".padEnd(48)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"p50 ratio".padStart(11)}`);
const summary: Record<string, { p50: number; p99: number; ratio: number }> = {};
const ref = [...(samples[0] as number[])].sort((a, b) => a - b);
for (const [k, [name]] of sides.entries()) {
  const sorted = [...(samples[k] as number[])].sort((a, b) => a - b);
  const p50 = pct(sorted, 0.5);
  const p99 = pct(sorted, 0.99);
  const ratio = p50 / pct(ref, 0.5);
  summary[name] = { p50, p99, ratio };
  console.log(
    `${name.padEnd(48)}${p50.toFixed(3).padStart(9)}${p99.toFixed(3).padStart(9)}${`${ratio.toFixed(2)}x`.padStart(11)}`,
  );
}

// --- The rewrite alone ---------------------------------------------------------------
/** HEADERS frames of `count` crictl-like requests, as Node's HTTP/2 client (nghttp2) encodes them. */
async function capturedRequests(count: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const sink = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const session = connect("http://localhost", { createConnection: () => sink as never });
  session.on("error", () => undefined);
  for (let i = 0; i < count; i++) {
    const s = session.request(
      {
        ":method": "POST",
        ":path": i % 2 ? "/runtime.v1.RuntimeService/ListContainers" : versionDef.path,
        ":authority": "/run/servin/servin.sock",
        "content-type": "application/grpc",
        "user-agent": "grpc-go/1.51.0",
        te: "trailers",
        "grpc-timeout": `${1 + (i % 9)}S`,
      },
      { endStream: true },
    );
    s.on("error", () => undefined);
  }
  await new Promise((r) => setTimeout(r, 200));
  session.destroy();
  const all = Buffer.concat(chunks).subarray(24);
  const frames: Buffer[] = [];
  for (let pos = 0; pos + 9 <= all.length; ) {
    const length = all.readUIntBE(pos, 3);
    if (all[pos + 3] === 1) frames.push(all.subarray(pos, pos + 9 + length));
    pos += 9 + length;
  }
  return frames;
}

const captured = await capturedRequests(100); // nghttp2 sends 100 streams before a server's SETTINGS
const blocks = captured.map((f) => f.subarray(9));
const codecRounds = 2000;
let t0 = process.hrtime.bigint();
for (let r = 0; r < codecRounds; r++) {
  const decoder = new HpackDecoder();
  for (const [i, block] of blocks.entries()) {
    const fields = decoder.decode(block);
    for (const f of fields) if (f.name === ":authority") f.value = "localhost";
    frameHeaderBlock(encodeHeaderBlock(fields), 2 * i + 1, 0x5);
  }
}
const codecSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const codecRate = (codecRounds * blocks.length) / codecSeconds;

// The whole wrapper: preface + the captured frames, fed as a connection would deliver them.
const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const connectionBytes = Buffer.concat([preface, ...captured]);
const streamRounds = 1000;
t0 = process.hrtime.bigint();
for (let r = 0; r < streamRounds; r++) {
  const fake = new PassThrough();
  const wrapped = rewriteAuthority(fake as unknown as Socket);
  wrapped.on("data", () => undefined);
  fake.write(connectionBytes);
  await new Promise((resolve) => setImmediate(resolve));
  if (wrapped.stats.headerBlocks !== captured.length) throw new Error("rewrite lost frames");
  wrapped.destroy();
}
const streamSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const streamRate = (streamRounds * captured.length) / streamSeconds;
const avgIn = blocks.reduce((n, b) => n + b.length, 0) / blocks.length;

console.log(
  `\nthe rewrite alone (${blocks.length} captured crictl-like blocks, avg ${avgIn.toFixed(1)} octets in)`,
);
console.log(
  `decode + re-encode + re-frame:       ${Math.round(codecRate).toLocaleString("en")} header blocks/s (${(1e6 / codecRate).toFixed(2)} µs each)`,
);
console.log(
  `through the connection wrapper:      ${Math.round(streamRate).toLocaleString("en")} header blocks/s (${(1e6 / streamRate).toFixed(2)} µs each)`,
);

mkdirSync("bench/results", { recursive: true });
writeFileSync(
  "bench/results/grpc-authority.json",
  JSON.stringify(
    {
      calls: CALLS,
      rounds: ROUNDS,
      latency: summary,
      headerBlocksPerSecond: { codec: codecRate, wrapper: streamRate },
    },
    null,
    2,
  ),
);

await servin.close(1000);
plain.forceShutdown();
await runtime.close();
await images.close();
rmSync(dir, { recursive: true, force: true });
