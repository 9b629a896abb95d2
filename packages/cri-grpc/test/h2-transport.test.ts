/**
 * The server's own HTTP/2 transport under a real client (grpc-js over Node's http2) and raw frames on a
 * real unix socket: answers larger than every flow-control window, many calls at once on one
 * connection, and the keepalive that drops a peer that stopped answering PINGs.
 */
import { connect as netConnect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeHeaderBlock } from "../src/_hpack.js";
import type { CriGrpcClient } from "../src/index.js";
import { frame, grpcMessage, H2, PREFACE, rawExchange } from "./_h2.js";
import { rawServerStream, until } from "./_helpers.js";
import { type MemoryGrpcServer, startMemoryGrpcServer } from "./_memory-services.js";

let fixture: MemoryGrpcServer;
let socketPath: string;
let cri: CriGrpcClient;
const BIG = 48 * 1024;
const CONTAINERS = 40;

beforeAll(async () => {
  fixture = await startMemoryGrpcServer();
  ({ socketPath, cri } = fixture);
  await cri.pullImage({ image: { image: "busybox:latest" } });
  const config = { metadata: { name: "big", namespace: "h2", uid: "h2-big", attempt: 0 } };
  const { podSandboxId } = await cri.runPodSandbox({ config });
  for (let i = 0; i < CONTAINERS; i++) {
    await cri.createContainer({
      podSandboxId,
      config: {
        metadata: { name: `c${i}`, attempt: 0 },
        image: { image: "busybox:latest" },
        // Annotations travel in every Container of a ListContainers answer.
        annotations: { payload: String(i % 10).repeat(BIG) },
      },
      sandboxConfig: config,
    });
  }
});

afterAll(async () => {
  await fixture?.close();
});

describe("flow control when sending", () => {
  it("delivers a ListContainers answer of ~2 MiB, far above the client's 64 KiB windows, intact", async () => {
    const { containers } = await cri.listContainers({});
    expect(containers).toHaveLength(CONTAINERS);
    for (const c of containers) {
      const i = Number(c.metadata?.name.slice(1));
      expect(c.annotations?.payload).toBe(String(i % 10).repeat(BIG));
    }
  });

  it("interleaves 20 such answers on one connection at once", async () => {
    const all = await Promise.all(Array.from({ length: 20 }, () => cri.listContainers({})));
    for (const { containers } of all) {
      expect(containers).toHaveLength(CONTAINERS);
      expect(containers.every((c) => c.annotations?.payload?.length === BIG)).toBe(true);
    }
  });

  it("streams the Stream* variant under the same windows", async () => {
    const result = await rawServerStream(`unix://${socketPath}`, "RuntimeService", "StreamContainers", {});
    expect(result.code).toBe(0);
    const items = result.messages.flatMap((m) => (m as { containers: unknown[] }).containers);
    expect(items).toHaveLength(CONTAINERS);
  });
});

describe("answers a client does not take", () => {
  it("a client that opens no window holds at most ~16 MiB of answers: further calls are refused (REFUSED_STREAM)", async () => {
    const socket = netConnect(socketPath);
    socket.on("error", () => undefined);
    const received: { type: number; streamId: number; payload: Buffer }[] = [];
    let rest = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      const buf = Buffer.concat([rest, chunk]);
      let pos = 0;
      while (buf.length - pos >= 9 && buf.length - pos >= 9 + buf.readUIntBE(pos, 3)) {
        const length = buf.readUIntBE(pos, 3);
        const type = buf[pos + 3] as number;
        const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        received.push({ type, streamId, payload: buf.subarray(pos + 9, pos + 9 + length) });
        pos += 9 + length;
      }
      rest = buf.subarray(pos);
    });
    const call = (id: number) =>
      Buffer.concat([
        frame(
          0x1,
          0x4,
          id,
          encodeHeaderBlock([
            { name: ":method", value: "POST" },
            { name: ":scheme", value: "http" },
            { name: ":path", value: "/runtime.v1.RuntimeService/ListContainers" },
            { name: ":authority", value: "localhost" },
            { name: "content-type", value: "application/grpc" },
          ]),
        ),
        frame(0x0, 0x1, id, grpcMessage(Buffer.alloc(0))),
      ]);
    try {
      // SETTINGS_INITIAL_WINDOW_SIZE 0: no answer's DATA may leave; each ~2 MiB answer waits in memory.
      const windowZero = Buffer.from([0, 4, 0, 0, 0, 0]);
      socket.write(Buffer.concat([PREFACE, frame(0x4, 0, 0, windowZero)]));
      const ids = Array.from({ length: 10 }, (_, i) => 2 * i + 1);
      socket.write(Buffer.concat(ids.map(call)));
      // Their response HEADERS (not flow-controlled) say the answers are queued.
      await until(
        () => ids.every((id) => received.some((f) => f.type === 0x1 && f.streamId === id)),
        "10 answers queued",
      );
      socket.write(call(21));
      await until(() => received.some((f) => f.streamId === 21), "an answer on stream 21");
      const rst = received.find((f) => f.type === 0x3 && f.streamId === 21);
      expect(rst?.payload.readUInt32BE(0)).toBe(0x7);
    } finally {
      socket.destroy();
    }
  });
});

describe("keepalive", () => {
  it("ends a connection whose peer does not answer the server's PING", async () => {
    const quick = await startMemoryGrpcServer({
      channelOptions: { "grpc.keepalive_time_ms": 100, "grpc.keepalive_timeout_ms": 100 },
    });
    const path = quick.socketPath;
    try {
      // A raw client that sends its preface and SETTINGS, then never reads a PING.
      const { frames, closed } = await rawExchange(path, [PREFACE, frame(H2.SETTINGS, 0, 0)], {
        closeWithinMs: 5000,
      });
      expect(frames.some((f) => f.type === H2.PING && f.flags === 0)).toBe(true);
      expect(closed).toBe(true);
      // A real client answers the PINGs and keeps working past several keepalive periods.
      for (let i = 0; i < 5; i++) {
        await expect(quick.cri.version({})).resolves.toMatchObject({ runtimeApiVersion: "v1" });
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      await quick.close();
    }
  });
});
