/**
 * Clients that send the unix socket path as HTTP/2 `:authority` (Go gRPC as
 * kubelet ≤ 1.29 and crictl ≤ 1.29 dial it): Node's http2 client sending the
 * path by hand over one long-lived connection, and the real crictl binary.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:http2";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { criServiceDefinitions } from "../src/proto.js";
import { grpcMessage, h2Connect, h2Version, h2VersionRaw } from "./_h2.js";
import { type MemoryGrpcServer, startMemoryGrpcServer } from "./_memory-services.js";

// The conformance kit's unmodified crictl 1.26.1, beside the repository (as CI lays it out).
const CRICTL =
  process.env.SERVIN_CRICTL ??
  fileURLToPath(new URL("../../../../shared/conformance/bin/crictl", import.meta.url));
const requireReal = process.env.SERVIN_REQUIRE_REAL === "1";

let fixture: MemoryGrpcServer;
let socketPath: string;

beforeAll(async () => {
  fixture = await startMemoryGrpcServer({ versionInfo: { runtimeName: "servin", runtimeVersion: "0.1.0" } });
  socketPath = fixture.socketPath;
});

afterAll(() => fixture?.close());

describe("any :authority over one HTTP/2 connection", () => {
  it("answers 200 Version calls that send the socket path as :authority", async () => {
    const session = h2Connect(socketPath);
    try {
      const results = [];
      // Batches of 20 concurrent calls: the client's HPACK encoder indexes the authority on
      // the first request and sends only its (Huffman-coded) index afterwards.
      for (let batch = 0; batch < 10; batch++) {
        results.push(
          ...(await Promise.all(Array.from({ length: 20 }, () => h2Version(session, socketPath)))),
        );
      }
      expect(results).toHaveLength(200);
      for (const r of results) {
        expect(r.status).toBe(0);
        expect(r.response).toMatchObject({ runtimeName: "servin", runtimeApiVersion: "v1" });
      }
    } finally {
      session.close();
    }
  });

  it("answers whatever the authority: path, host:port, empty-ish, long", async () => {
    const session = h2Connect(socketPath);
    try {
      for (const authority of [
        "/run/servin/servin.sock",
        "localhost",
        "127.0.0.1:10010",
        "x",
        "/".repeat(2000),
      ]) {
        expect((await h2Version(session, authority)).status).toBe(0);
      }
    } finally {
      session.close();
    }
  });

  it("handles a header block split over CONTINUATION frames, padding, priority and request trailers", async () => {
    const session = h2Connect(socketPath, { paddingStrategy: constants.PADDING_STRATEGY_MAX });
    try {
      // 40 KB of metadata: Node sends HEADERS + CONTINUATION frames; the rewrite re-frames the block.
      const big = await h2Version(session, socketPath, { headers: { "x-big": "b".repeat(40_000) } });
      expect(big.status).toBe(0);
      // Padded (PADDING_STRATEGY_MAX) and with PRIORITY fields (weight).
      const prioritised = await h2Version(session, socketPath, { weight: 200 });
      expect(prioritised.status).toBe(0);
      // The request ends with a trailers HEADERS frame (END_STREAM) after the DATA frame.
      const withTrailers = await h2Version(session, socketPath, { trailers: { "x-trailer": "t" } });
      expect(withTrailers.status).toBe(0);
      // And the connection is still in step afterwards.
      expect((await h2Version(session, socketPath)).status).toBe(0);
    } finally {
      session.close();
    }
  });

  it("carries a 10 MiB request through (DATA frames, flow control and backpressure pass through)", async () => {
    const session = h2Connect(socketPath);
    try {
      // VersionRequest with an unknown bytes field 15 of 10 MiB: protobuf readers skip it.
      const size = 10 * 1024 * 1024;
      const field = Buffer.concat([Buffer.from([0x7a]), varint(size), Buffer.alloc(size, 0x61)]);
      const result = await h2VersionRaw(session, socketPath, grpcMessage(field));
      expect(result.status).toBe(0);
      expect(result.response).toMatchObject({ runtimeApiVersion: "v1" });
    } finally {
      session.close();
    }
  });

  it("is needed: a plain grpc-js server resets the same request (why the rewrite exists)", async () => {
    const plain = new Server();
    const defs = criServiceDefinitions("v1");
    plain.addService(defs.RuntimeService, {
      Version: (_call: unknown, cb: (e: null, r: unknown) => void) => cb(null, { version: "x" }),
    });
    const plainSocket = join(dirname(socketPath), "plain.sock");
    await new Promise<void>((resolve, reject) =>
      plain.bindAsync(`unix://${plainSocket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    const session = h2Connect(plainSocket);
    try {
      expect((await h2Version(session, "localhost")).status).toBe(0);
      await expect(h2Version(session, plainSocket)).rejects.toThrow(/reset|PROTOCOL_ERROR/i);
    } finally {
      session.close();
      plain.forceShutdown();
    }
  });
});

const haveCrictl = existsSync(CRICTL);
if (!haveCrictl && !requireReal) console.warn(`skipping crictl tests: ${CRICTL} not found`);

describe.skipIf(!haveCrictl && !requireReal)("the unmodified crictl v1.26.1 binary", () => {
  const crictl = async (...args: string[]) => {
    const endpoint = `unix://${socketPath}`;
    const { stdout } = await promisify(execFile)(
      CRICTL,
      ["--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "--timeout", "20s", ...args],
      { encoding: "utf8" },
    );
    return stdout;
  };

  it("version", async () => {
    const out = await crictl("version");
    expect(out).toContain("RuntimeName:  servin");
    expect(out).toContain("RuntimeApiVersion:  v1");
  });

  it("info, imagefsinfo, images, pods, ps", async () => {
    const info = JSON.parse(await crictl("info")) as { status: { conditions: { type: string }[] } };
    expect(info.status.conditions.map((c) => c.type)).toContain("RuntimeReady");
    expect(await crictl("imagefsinfo")).toContain("fsId");
    expect(await crictl("images")).toContain("IMAGE ID");
    expect(await crictl("pods")).toContain("POD ID");
    expect(await crictl("ps", "-a")).toContain("CONTAINER");
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}
