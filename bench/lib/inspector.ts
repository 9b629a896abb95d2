/**
 * A minimal Chrome DevTools Protocol client over the inspector's WebSocket (Node 20 has no WebSocket
 * client built in, and `ws` is not a dependency of the bench): enough to force a full GC in a Node
 * process started with `--inspect=127.0.0.1:0` and read its heap, for the churn probe of `pnpm bench:cri`.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";

/** The `ws://` URL a Node process printed when its inspector started ("Debugger listening on ws://…"). */
export function inspectorUrl(output: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
}

export class InspectorClient {
  private buf = Buffer.alloc(0);
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", (err) => this.failAll(err));
    socket.on("close", () => this.failAll(new Error("inspector connection closed")));
  }

  /** Opens the WebSocket at `url` (ws://host:port/uuid). */
  static connect(url: string): Promise<InspectorClient> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const req = request({
        host: u.hostname,
        port: Number(u.port),
        path: u.pathname,
        headers: {
          Connection: "Upgrade",
          Upgrade: "websocket",
          "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
          "Sec-WebSocket-Version": "13",
        },
      });
      req.on("upgrade", (_res, socket, head) => {
        const client = new InspectorClient(socket);
        if (head.length > 0) client.receive(head);
        resolve(client);
      });
      req.on("response", (res) =>
        reject(new Error(`inspector at ${url} answered ${res.statusCode}, no upgrade`)),
      );
      req.on("error", reject);
      req.end();
    });
  }

  /** Sends one CDP command and resolves with its result. */
  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const payload = Buffer.from(JSON.stringify({ id, method, params }));
    const mask = randomBytes(4);
    const len = payload.length;
    const head =
      len < 126
        ? Buffer.from([0x81, 0x80 | len])
        : len < 65536
          ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 0xff])
          : Buffer.concat([Buffer.from([0x81, 0x80 | 127]), bigLen(len)]);
    for (let i = 0; i < len; i++) payload[i] = (payload[i] as number) ^ (mask[i & 3] as number);
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: (v) => resolve(v as T), reject });
      this.socket.write(Buffer.concat([head, mask, payload]));
    });
  }

  close(): void {
    this.socket.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0]));
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = (this.buf[0] as number) & 0x0f;
      let len = (this.buf[1] as number) & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode !== 1) continue; // the inspector sends whole text frames; pings and the rest are ignored
      const msg = JSON.parse(payload.toString("utf8")) as {
        id?: number;
        result?: unknown;
        error?: { message?: string };
      };
      if (msg.id === undefined) continue; // an event
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error) w?.reject(new Error(`inspector: ${msg.error.message}`));
      else w?.resolve(msg.result);
    }
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

function bigLen(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Forces a full GC in the inspected process and answers its V8 heap in use, in bytes. */
export async function heapAfterGc(client: InspectorClient): Promise<number> {
  await client.send("HeapProfiler.enable");
  await client.send("HeapProfiler.collectGarbage");
  await client.send("HeapProfiler.collectGarbage");
  const usage = await client.send<{ usedSize: number }>("Runtime.getHeapUsage");
  return usage.usedSize;
}
