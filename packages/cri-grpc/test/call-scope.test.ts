/**
 * The per-call fast path of the gRPC server: a unary answer leaves as one socket write (over a real
 * unix socket), and a call scope ignores a "cancelled" that follows an answered call.
 */
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CallScopes, openCallScope } from "../src/_call-scope.js";
import { encodeHeaderBlock } from "../src/_hpack.js";
import { type GrpcMethod, serveGrpc } from "../src/h2/grpc.js";
import { frame, grpcMessage, PREFACE } from "./_h2.js";
import { until } from "./_helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A connected pair of real unix sockets: [server side, client side]. */
async function socketPair(): Promise<[Socket, Socket]> {
  const dir = mkdtempSync(join(tmpdir(), "servin-grpc-cork-"));
  dirs.push(dir);
  const path = join(dir, "s.sock");
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  const accepted = new Promise<Socket>((r) => server.once("connection", r));
  const client = netConnect(path);
  await new Promise<void>((r) => client.once("connect", () => r()));
  const serverSide = await accepted;
  server.close();
  return [serverSide, client];
}

describe("a unary answer", () => {
  it("leaves in one socket write: response HEADERS, the message and the trailers", async () => {
    const [serverSide, client] = await socketPair();
    const writes: Buffer[] = [];
    const write = serverSide.write.bind(serverSide) as (chunk: Buffer) => boolean;
    serverSide.write = ((chunk: Buffer) => {
      writes.push(Buffer.from(chunk));
      return write(chunk);
    }) as typeof serverSide.write;
    const echo: GrpcMethod = {
      path: "/test.Echo/Echo",
      responseStream: false,
      decode: (bytes) => bytes,
      encode: (message) => message as Buffer,
      handler: (call) => setImmediate(() => call.sendUnary(Buffer.from("pong"))),
    };
    serveGrpc(serverSide, {
      methods: new Map([[echo.path, echo]]),
      maxReceiveMessageBytes: 1024,
      maxSendMessageBytes: 1024,
    });
    client.on("data", () => undefined);
    client.write(Buffer.concat([PREFACE, frame(0x4, 0, 0)]));
    await until(() => writes.length > 0, "the server's SETTINGS");
    writes.length = 0;
    const block = encodeHeaderBlock([
      { name: ":method", value: "POST" },
      { name: ":path", value: echo.path },
      { name: "content-type", value: "application/grpc" },
    ]);
    client.write(
      Buffer.concat([frame(0x1, 0x4, 1, block), frame(0x0, 0x1, 1, grpcMessage(Buffer.from("ping")))]),
    );
    await until(() => writes.some((w) => w.includes("pong")), "the answer");
    // SETTINGS ACK may come first, in the turn that read the client's SETTINGS; the answer is one write.
    const answer = writes.filter((w) => w.includes("pong"));
    expect(answer).toHaveLength(1);
    const types: number[] = [];
    const buf = answer[0] as Buffer;
    for (let pos = 0; pos + 9 <= buf.length; pos += 9 + buf.readUIntBE(pos, 3))
      types.push(buf[pos + 3] as number);
    expect(types.slice(-3)).toEqual([0x1, 0x0, 0x1]);
    client.destroy();
    serverSide.destroy();
  });
});

class FakeCall extends EventEmitter {
  constructor(private readonly deadline: number) {
    super();
  }
  getDeadline(): number {
    return this.deadline;
  }
}

describe("a call scope", () => {
  it("aborts with Aborted when the client cancels a call in progress", () => {
    const call = new FakeCall(Number.POSITIVE_INFINITY);
    const registry = new CallScopes();
    const scope = openCallScope(call, registry);
    call.emit("cancelled");
    expect(scope.signal.aborted).toBe(true);
    expect((scope.signal.reason as { code: string }).code).toBe("Aborted");
    scope.dispose();
    expect(registry.size).toBe(0);
  });

  it("ignores a cancel that comes after the call was answered", () => {
    const call = new FakeCall(Date.now() + 60_000);
    const registry = new CallScopes();
    const scope = openCallScope(call, registry);
    scope.dispose();
    call.emit("cancelled");
    expect(scope.signal.aborted).toBe(false);
  });

  it("is listed in its registry until disposed, in any order, once, and the registry walks a snapshot", () => {
    const registry = new CallScopes();
    const scopes = [0, 1, 2, 3].map(() => openCallScope(new FakeCall(Number.POSITIVE_INFINITY), registry));
    expect(registry.size).toBe(4);
    expect(new Set(registry)).toEqual(new Set(scopes));
    scopes[2]?.dispose();
    scopes[2]?.dispose(); // twice is once
    scopes[0]?.dispose();
    expect(registry.size).toBe(2);
    expect(new Set(registry)).toEqual(new Set([scopes[1], scopes[3]]));
    // Disposing every scope while walking the registry (what a close does by aborting) is safe.
    let walked = 0;
    for (const scope of registry) {
      walked++;
      for (const s of scopes) s?.dispose();
      expect(scope.longLived).toBe(false);
    }
    expect(walked).toBe(2);
    expect(registry.size).toBe(0);
    expect([...registry]).toEqual([]);
  });
});
