/**
 * Benchmark (not a test): servin's own HTTP/2 gRPC transport (packages/cri-grpc/src/h2) against grpc-js's
 * server bound the ordinary way, with the same handlers.
 *
 * Per-call latency of sequential unary Version calls over ONE HTTP/2 connection each (Node's http2
 * client, gRPC framing by hand), interleaved call by call in one process: grpc-js (the client sends
 * `localhost`: nghttp2 refuses a path authority) and servin's server, once with the socket path as
 * authority (what crictl/kubelet ≤ 1.29 send) and once with `localhost`. p50/p99 and the ratio.
 *
 * Run: pnpm bench:grpc  [--calls 3000] [--rounds 3]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type ClientHttp2Session, connect } from "node:http2";
import { createRequire } from "node:module";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
// bench/ is not a workspace package: import the packages' sources directly.
import { CallScopes } from "../packages/cri-grpc/src/_call-scope.js";
import { implementService } from "../packages/cri-grpc/src/_handlers.js";
import { IMAGE_METHODS, RUNTIME_METHODS } from "../packages/cri-grpc/src/_rpc-table.js";
import type { GrpcMethod, GrpcServerCall } from "../packages/cri-grpc/src/h2/grpc.js";
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

// servin: its own HTTP/2 transport.
const servinSocket = join(dir, "servin.sock");
const servin = createCriGrpcServer({ runtime, images, socketPath: servinSocket });
await servin.listen();

// The reference: grpc-js bound the ordinary way, with the very same handlers.
const plainSocket = join(dir, "plain.sock");
const plain = new Server();
const ctx = {
  services: { runtime, image: images },
  apiVersion: "v1" as const,
  versionInfo: {},
  logger: silentLogger,
  scopes: new CallScopes(),
};
const defs = criServiceDefinitions("v1");
/** The same handlers under grpc-js: a unary handler's call answers through grpc-js's callback. */
function underGrpcJs(methods: GrpcMethod[]): Parameters<typeof plain.addService>[1] {
  const impl: Record<string, unknown> = {};
  for (const m of methods) {
    if (m.responseStream) continue;
    impl[m.path.slice(m.path.lastIndexOf("/") + 1)] = (
      call: { request: unknown; getDeadline(): Date | number; on(e: string, l: () => void): void },
      callback: (err: unknown, value?: unknown) => void,
    ) => {
      const adapted = {
        request: call.request,
        cancelled: false,
        getDeadline: () => call.getDeadline(),
        on(event: string, listener: () => void) {
          call.on(event, listener);
          return adapted;
        },
        sendUnary: (wire: unknown) => callback(null, wire),
        end: (status?: unknown) => callback(status ?? null),
      };
      m.handler(adapted as unknown as GrpcServerCall);
    };
  }
  return impl as Parameters<typeof plain.addService>[1];
}
plain.addService(
  defs.RuntimeService,
  underGrpcJs(implementService(defs.RuntimeService, RUNTIME_METHODS, ctx)),
);
plain.addService(defs.ImageService, underGrpcJs(implementService(defs.ImageService, IMAGE_METHODS, ctx)));
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
  ["servin h2, authority = socket path", servinSocket, servinSocket],
  ["servin h2, authority localhost", servinSocket, "localhost"],
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

mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
writeFileSync(
  join(import.meta.dirname, "results/grpc-transport.json"),
  `${JSON.stringify({ date: new Date().toISOString(), calls: ROUNDS * CALLS, summary }, null, 2)}\n`,
);
await servin.close(1000);
plain.forceShutdown();
await runtime.close();
await images.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
