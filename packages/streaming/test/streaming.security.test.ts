import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { channelConnect, readAll, readUntil, spdyConnect } from "./clients.js";
import { startEchoServer } from "./echo-server.js";
import { hostProcessRuntime } from "./host-process-runtime.js";
import { childPids, until } from "./proc.js";

let server: StreamingServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const V4 = ["v4.channel.k8s.io"];

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

describe("streaming URLs", () => {
  it("are single use: the second upgrade with the same token is a 404", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime() });
    const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
    const first = await spdyConnect(url, V4);
    expect(first.status).toBe(101);
    const second = await spdyConnect(url, V4);
    expect(second.status).toBe(404);
    expect(second.body).toContain("unknown, used or expired token");
    await expect(channelConnect(url, ["v5.channel.k8s.io"])).rejects.toThrow("404");
    first.close();
  });

  it("expire after the token ttl", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime(), tokenTtlMs: 50 });
    const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
    await new Promise((r) => setTimeout(r, 120));
    expect((await spdyConnect(url, V4)).status).toBe(404);
  });

  it("are bound to their kind and token: an exec token on /portforward, a guessed or mangled token are 404", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime() });
    const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
    const token = url.split("/").pop()!;
    expect((await spdyConnect(`${server.url}/portforward/${token}`, ["portforward.k8s.io"])).status).toBe(
      404,
    );
    expect((await spdyConnect(`${server.url}/exec/${"A".repeat(22)}`, V4)).status).toBe(404);
    expect((await spdyConnect(`${server.url}/exec/..%2f..%2fetc`, V4)).status).toBe(404);
    expect((await spdyConnect(`${server.url}/exec/${"x".repeat(5000)}`, V4)).status).toBe(404);
    // the exec token was taken by the /portforward attempt: it cannot be used any more
    expect((await spdyConnect(url, V4)).status).toBe(404);
  });

  it("answer a plain GET with 400 and unknown paths with 404", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime() });
    const { url } = server.getExec({ containerId: "c", cmd: ["true"], stdout: true });
    const plain = await get(url);
    expect(plain.status).toBe(400);
    expect(plain.body).toContain("expected an upgrade");
    expect((await get(`${server.url}/`)).status).toBe(404);
  });

  it("reject bad requests at issuance with InvalidArgument naming the field", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime() });
    expect(() => server!.getExec({ containerId: "", cmd: ["true"], stdout: true })).toThrow(/container_id/);
    expect(() => server!.getExec({ containerId: "c", cmd: [], stdout: true })).toThrow(/cmd/);
    expect(() => server!.getExec({ containerId: "c", cmd: ["sh"] })).toThrow(
      /one of stdin, stdout, or stderr/,
    );
    expect(() => server!.getExec({ containerId: "c", cmd: ["sh"], tty: true, stderr: true })).toThrow(
      /tty and stderr/,
    );
    expect(() => server!.getPortForward({ podSandboxId: "p", port: [0] })).toThrow(/port: 0/);
    expect(() => server!.getPortForward({ podSandboxId: "p", port: [70000] })).toThrow(/port: 70000/);
  });
});

describe("resource limits", () => {
  it("caps concurrent sessions (429) without spending the token", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime(), maxConcurrentStreams: 1 });
    const first = await spdyConnect(
      server.getExec({ containerId: "c", cmd: ["sleep", "30"], stdout: true }).url,
      V4,
    );
    expect(first.status).toBe(101);
    const { url } = server.getExec({ containerId: "c", cmd: ["echo", "later"], stdout: true });
    const refused = await spdyConnect(url, V4);
    expect(refused.status).toBe(429);
    expect(refused.body).toContain("too many concurrent streams (limit 1)");
    first.close();
    while (server.stats().activeSessions > 0) await new Promise((r) => setTimeout(r, 10));
    const later = await spdyConnect(url, V4);
    expect(later.status).toBe(101);
    const error = await later.open({ streamtype: "error" });
    const stdout = await later.open({ streamtype: "stdout" });
    expect(await readAll(stdout)).toBe("later\n");
    expect(JSON.parse(await readAll(error)).status).toBe("Success");
    later.close();
  });

  it("caps the forwarded connections one port-forward session holds open", async () => {
    const echo = await startEchoServer();
    server = await startStreamingServer({ runtime: hostProcessRuntime(), maxConcurrentStreams: 2 });
    const client = await spdyConnect(server.getPortForward({ podSandboxId: "p" }).url, [
      "portforward.k8s.io",
    ]);
    const open = async (id: string) => {
      const headers = { port: String(echo.port), requestid: id };
      const error = await client.open({ ...headers, streamtype: "error" });
      return { error, data: id === "c" ? undefined : await client.open({ ...headers, streamtype: "data" }) };
    };
    const a = await open("a");
    const b = await open("b");
    a.data!.write("a");
    b.data!.write("b");
    await Promise.all([readUntil(a.data!, "a"), readUntil(b.data!, "b")]);
    const c = await open("c");
    expect(await readAll(c.error)).toBe(
      "port-forward: too many concurrent connections in this session (limit 2)",
    );
    client.close();
    await echo.close();
  });

  it("closes a session whose client opens no streams within the creation timeout", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime(), streamCreationTimeoutMs: 100 });
    const client = await spdyConnect(
      server.getExec({ containerId: "c", cmd: ["true"], stdout: true }).url,
      V4,
    );
    await new Promise((resolve) => client.socket.once("close", resolve));
    await until(() => server!.stats().activeSessions === 0, "the session to end");
  });

  it("closes an idle session and kills its process", async () => {
    server = await startStreamingServer({ runtime: hostProcessRuntime(), streamIdleTimeoutMs: 200 });
    const client = await channelConnect(
      server.getExec({ containerId: "c", cmd: ["sleep", "60"], stdin: true, stdout: true }).url,
      ["v5.channel.k8s.io"],
    );
    await until(() => childPids().length === 1, "sleep to start");
    await client.closed;
    await until(() => server!.stats().activeSessions === 0, "the session to end");
    expect(childPids()).toEqual([]);
  });
});
