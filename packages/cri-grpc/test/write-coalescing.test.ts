/**
 * The per-call fast path of the gRPC server: what the connection wrapper writes in one event-loop
 * turn leaves as one socket write (over a real unix socket), and a call scope ignores grpc-js's
 * "cancelled" that follows an answered call.
 */
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rewriteAuthority } from "../src/_authority-rewrite.js";
import { type CallScope, openCallScope } from "../src/_call-scope.js";

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

describe("the connection wrapper's writes", () => {
  it("holds the writes of one turn and sends them together, in order, before the next turn ends", async () => {
    const [serverSide, client] = await socketPair();
    const wrapped = rewriteAuthority(serverSide);
    const received: Buffer[] = [];
    client.on("data", (c: Buffer) => received.push(c));

    // As nghttp2 flushes a unary answer: response HEADERS, then DATA, then trailers.
    wrapped.write(Buffer.from("headers|"));
    wrapped.write(Buffer.from("data|"));
    wrapped.write(Buffer.from("trailers"));
    expect(serverSide.writableCorked).toBe(1);
    expect(serverSide.writableLength).toBe("headers|data|trailers".length);

    await new Promise((r) => setImmediate(r));
    expect(serverSide.writableCorked).toBe(0);
    expect(serverSide.writableLength).toBe(0);
    const deadline = Date.now() + 5000;
    while (Buffer.concat(received).length < 21 && Date.now() < deadline)
      await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(received).toString()).toBe("headers|data|trailers");

    // The next turn's writes are held and released alike.
    wrapped.write(Buffer.from("|again"));
    expect(serverSide.writableCorked).toBe(1);
    wrapped.end();
    await new Promise<void>((r) => client.once("end", () => r()));
    expect(Buffer.concat(received).toString()).toBe("headers|data|trailers|again");
    client.destroy();
    wrapped.destroy();
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
    const registry = new Set<CallScope>();
    const scope = openCallScope(call, registry);
    call.emit("cancelled");
    expect(scope.signal.aborted).toBe(true);
    expect((scope.signal.reason as { code: string }).code).toBe("Aborted");
    scope.dispose();
    expect(registry.size).toBe(0);
  });

  it("ignores the cancel grpc-js emits when the stream of an answered call closes", () => {
    const call = new FakeCall(Date.now() + 60_000);
    const registry = new Set<CallScope>();
    const scope = openCallScope(call, registry);
    scope.dispose();
    call.emit("cancelled");
    expect(scope.signal.aborted).toBe(false);
  });
});
