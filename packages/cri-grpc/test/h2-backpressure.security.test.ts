/**
 * A peer that never reads what the server answers: the server stops reading from it once its own
 * unsent answers pile up, so a flood of PINGs (each owed a PING ACK) holds bounded memory, and every
 * answer still arrives once the peer reads again.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { encodeHeaderBlock as headerBlock } from "../src/_hpack.js";
import { H2ServerConnection } from "../src/h2/connection.js";
import { frame, PREFACE } from "./_h2.js";
import { tempDir, until } from "./_helpers.js";

let dir: Awaited<ReturnType<typeof tempDir>>;
let server: Server;
let socketPath: string;
let serverSocket: Socket | undefined;
/** Streams that asked to be told when the socket drains. */
let waiting = 0;

beforeAll(async () => {
  dir = await tempDir();
  socketPath = join(dir.path, "h2.sock");
  server = createServer((socket) => {
    serverSocket = socket;
    new H2ServerConnection(socket, {
      onStream: (s) => {
        if (s.header(":path") !== "/big") {
          s.reset(0x7);
          return;
        }
        s.handler = { onData: () => undefined, onReset: () => undefined };
        s.send(headerBlock([{ name: ":status", value: "200" }]), Buffer.alloc(256 * 1024), undefined);
        s.onSocketDrain(() => undefined);
        waiting++;
      },
    });
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
});

afterAll(async () => {
  serverSocket?.destroy();
  await new Promise((r) => server.close(r));
  await dir?.remove();
});

/** Counts the PING ACK frames in what `socket` receives. */
function countPingAcks(socket: Socket): { readonly acks: number } {
  const counter = { acks: 0 };
  let rest = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let pos = 0;
    while (buf.length - pos >= 9) {
      const length = buf.readUIntBE(pos, 3);
      if (buf.length - pos < 9 + length) break;
      if (buf[pos + 3] === 0x6 && buf[pos + 4] === 0x1) counter.acks++;
      pos += 9 + length;
    }
    rest = Buffer.from(buf.subarray(pos));
  });
  return counter;
}

it("a PING flood from a peer that does not read is held to a bounded write buffer, and all answered later", async () => {
  const pings = 400_000; // 6.8 MB of PINGs, as much of PING ACKs owed
  const ping = frame(0x6, 0, 0, Buffer.alloc(8));
  const flood = Buffer.concat(Array.from({ length: pings }, () => ping));
  const client = connect(socketPath);
  client.on("error", () => undefined);
  client.pause(); // never reads, for now
  try {
    await new Promise((r) => client.once("connect", r));
    client.write(Buffer.concat([PREFACE, frame(0x4, 0, 0)]));
    client.write(flood);
    const total = PREFACE.length + 9 + flood.length;
    await until(() => serverSocket !== undefined, "the server's socket");
    const s = serverSocket as Socket;
    // Either the server read everything (no bound) or it stopped reading.
    await until(() => s.bytesRead === total || s.isPaused(), "the server to read all or pause");
    expect(s.writableLength).toBeLessThan(2 * 1024 * 1024);
    // Reading again, the peer gets every PING ACK.
    const counter = countPingAcks(client);
    client.resume();
    await until(() => counter.acks === pings, `${pings} PING ACKs`);
  } finally {
    client.destroy();
  }
}, 60_000);

it("many streams waiting for the socket to drain share one listener on it", async () => {
  serverSocket = undefined;
  const client = connect(socketPath);
  client.on("error", () => undefined);
  client.pause(); // never reads
  try {
    await new Promise((r) => client.once("connect", r));
    const settings = Buffer.from([0, 4, 0x7f, 0xff, 0xff, 0xff]); // INITIAL_WINDOW_SIZE 2^31-1
    const calls = Array.from({ length: 20 }, (_, i) =>
      frame(
        0x1,
        0x4 | 0x1,
        2 * i + 1,
        headerBlock([
          { name: ":method", value: "POST" },
          { name: ":path", value: "/big" },
        ]),
      ),
    );
    client.write(
      Buffer.concat([
        PREFACE,
        frame(0x4, 0, 0, settings),
        frame(0x8, 0, 0, Buffer.from([0x7f, 0xff, 0x00, 0x00])),
        ...calls,
      ]),
    );
    await until(() => waiting === 20, "20 streams waiting");
    expect((serverSocket as Socket | undefined)?.listenerCount("drain")).toBeLessThanOrEqual(1);
  } finally {
    client.destroy();
  }
});
