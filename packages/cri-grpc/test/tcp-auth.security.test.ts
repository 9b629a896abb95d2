/**
 * gRPC over TCP honours tcpAuth: a bearer token checked on every call
 * (UNAUTHENTICATED without it), or a per-connection verdict on the peer
 * (PERMISSION_DENIED when untrusted). The unix socket is never checked.
 * Real grpc-js clients over real loopback TCP.
 */
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { Metadata } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CriGrpcServerOptions, createCriGrpcServer, type TcpPeer } from "../src/index.js";
import { rawServerStream, rawUnary, tempDir } from "./_helpers.js";
import { createMemoryServices, type MemoryServices } from "./_memory-services.js";

const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;
const TOKEN = "s3cret-token-for-tests";

let dir: Awaited<ReturnType<typeof tempDir>>;
let services: MemoryServices;
let images: MemoryServices["images"];
let runtime: MemoryServices["runtime"];

beforeAll(async () => {
  dir = await tempDir();
  services = await createMemoryServices();
  ({ images, runtime } = services);
});

afterAll(async () => {
  await services?.close();
  await dir?.remove();
});

let serial = 0;
/** Starts a server on a unix socket and 127.0.0.1:0; returns both targets. */
async function start(tcpAuth: CriGrpcServerOptions["tcpAuth"]) {
  const server = createCriGrpcServer({
    runtime,
    images,
    socketPath: join(dir.path, `s${serial++}.sock`),
    tcp: "127.0.0.1:0",
    tcpAuth,
  });
  const address = await server.listen();
  return {
    server,
    tcpPort: address.tcpPort as number,
    tcp: `127.0.0.1:${address.tcpPort}`,
    unix: `unix://${address.socketPath}`,
  };
}

const withAuthorization = (...values: string[]) => {
  const md = new Metadata();
  for (const v of values) md.add("authorization", v);
  return md;
};
const version = (target: string, md?: Metadata) =>
  rawUnary(target, "RuntimeService", "Version", {}, "v1", md);

describe("tcpAuth.token", () => {
  let s: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    s = await start({ token: TOKEN, trustPeer: () => true });
  });
  afterAll(() => s?.server.close(2000));

  it("answers a TCP call without the token UNAUTHENTICATED", async () => {
    const r = await version(s.tcp);
    expect(r.code).toBe(UNAUTHENTICATED);
    expect(r.details).toMatch(/bearer token/);
  });

  it.each([
    ["a wrong token", `Bearer ${TOKEN}x`],
    ["a prefix of the token", `Bearer ${TOKEN.slice(0, -1)}`],
    ["an empty token", "Bearer "],
    ["another scheme", `Basic ${TOKEN}`],
    ["the bare token", TOKEN],
  ])("answers %s UNAUTHENTICATED (trustPeer is not consulted when a token is set)", async (_what, value) => {
    expect((await version(s.tcp, withAuthorization(value))).code).toBe(UNAUTHENTICATED);
  });

  it("answers the right token, scheme in any case", async () => {
    const r = await version(s.tcp, withAuthorization(`Bearer ${TOKEN}`));
    expect(r.code).toBe(0);
    expect(r.response).toMatchObject({ runtimeApiVersion: "v1" });
    expect((await version(s.tcp, withAuthorization(`bearer ${TOKEN}`))).code).toBe(0);
  });

  it("guards every kind of call: unary, list streams, the event stream", async () => {
    expect((await rawUnary(s.tcp, "RuntimeService", "ListPodSandbox", {})).code).toBe(UNAUTHENTICATED);
    expect((await rawUnary(s.tcp, "ImageService", "ListImages", {})).code).toBe(UNAUTHENTICATED);
    expect((await rawServerStream(s.tcp, "RuntimeService", "GetContainerEvents", {})).code).toBe(
      UNAUTHENTICATED,
    );
    expect((await rawUnary(s.tcp, "RuntimeService", "Version", {}, "v1alpha2")).code).toBe(UNAUTHENTICATED);
  });

  it("does not check the unix socket (its file mode guards it)", async () => {
    expect((await version(s.unix)).code).toBe(0);
  });
});

describe("tcpAuth.trustPeer", () => {
  it("untrusted peers get PERMISSION_DENIED on every call; the unix socket is not judged", async () => {
    const peers: TcpPeer[] = [];
    const s = await start({
      trustPeer: (peer) => {
        peers.push(peer);
        return false;
      },
    });
    try {
      const r = await version(s.tcp);
      expect(r.code).toBe(PERMISSION_DENIED);
      expect(r.details).toMatch(/not trusted/);
      expect((await rawUnary(s.tcp, "RuntimeService", "ListContainers", {})).code).toBe(PERMISSION_DENIED);
      expect((await version(s.unix)).code).toBe(0);
      // One verdict per connection, with the real addresses of that connection.
      expect(peers.length).toBeGreaterThanOrEqual(1);
      for (const peer of peers) {
        expect(peer).toMatchObject({
          remoteAddress: "127.0.0.1",
          localAddress: "127.0.0.1",
          localPort: s.tcpPort,
        });
        expect(peer.remotePort).toBeGreaterThan(0);
      }
    } finally {
      await s.server.close(2000);
    }
  });

  it("trusted peers are served, also when the verdict takes a while (async)", async () => {
    const s = await start({
      trustPeer: async () => {
        await new Promise((r) => setTimeout(r, 100));
        return true;
      },
    });
    try {
      expect((await version(s.tcp)).code).toBe(0);
    } finally {
      await s.server.close(2000);
    }
  });

  it("a trustPeer that throws or rejects denies", async () => {
    for (const trustPeer of [
      () => {
        throw new Error("no /proc");
      },
      () => Promise.reject(new Error("no /proc")),
    ]) {
      const s = await start({ trustPeer });
      try {
        expect((await version(s.tcp)).code).toBe(PERMISSION_DENIED);
      } finally {
        await s.server.close(2000);
      }
    }
  });
});

describe("no tcpAuth", () => {
  it("TCP is open (the library default)", async () => {
    const s = await start(undefined);
    try {
      expect((await version(s.tcp)).code).toBe(0);
    } finally {
      await s.server.close(2000);
    }
  });
});

describe("maxTcpConnections (real TCP connections on loopback)", () => {
  it("closes a connection over the limit as it is accepted, warns, and takes one again once another ends", async () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const server = createCriGrpcServer({
      runtime,
      images,
      socketPath: "",
      tcp: "127.0.0.1:0",
      maxTcpConnections: 2,
      logger,
    });
    const tcpPort = (await server.listen()).tcpPort as number;
    const open = () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: tcpPort }, () => resolve(socket));
        socket.once("error", reject);
      });
    const closed = (socket: Socket, ms: number) =>
      new Promise<boolean>((resolve) => {
        if (socket.closed) return resolve(true);
        const timer = setTimeout(() => resolve(false), ms);
        socket.once("close", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    const [a, b] = [await open(), await open()];
    const c = await open();
    c.on("error", () => undefined);
    try {
      expect(await closed(c, 2_000)).toBe(true);
      expect(await closed(a, 200)).toBe(false);
      expect(warnings.join("\n")).toMatch(
        /2 tcp connections open \(maxTcpConnections\): closed 1 new one\(s\), the last from 127\.0\.0\.1:\d+/,
      );
      a.destroy();
      await closed(a, 2_000);
      // a call on a new connection is served: one place is free again
      await new Promise((r) => setTimeout(r, 50));
      expect((await version(`127.0.0.1:${tcpPort}`)).code).toBe(0);
    } finally {
      b.destroy();
      await server.close(1000);
    }
  });

  it("refuses a limit that is not a whole number ≥ 1", () => {
    expect(() =>
      createCriGrpcServer({ runtime, images, socketPath: "", tcp: "127.0.0.1:0", maxTcpConnections: 0 }),
    ).toThrow(/maxTcpConnections must be a whole number ≥ 1, got 0/);
  });
});
