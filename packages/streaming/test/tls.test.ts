import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import { type StreamingServer, startStreamingServer } from "../src/index.js";
import { hostProcessRuntime } from "./host-process-runtime.js";

let server: StreamingServer;
let dir: string;
let cert: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "servin-streaming-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  cert = readFileSync(join(dir, "cert.pem"));
  server = await startStreamingServer({
    runtime: hostProcessRuntime(),
    tls: { key: readFileSync(join(dir, "key.pem")), cert },
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

it("serves https URLs and exec over wss with the configured certificate", async () => {
  const { url } = server.getExec({ containerId: "c", cmd: ["echo", "secure"], stdout: true });
  expect(url.startsWith("https://127.0.0.1:")).toBe(true);
  const ws = new WebSocket(url.replace(/^https/, "wss"), ["v5.channel.k8s.io"], { ca: cert });
  const frames: Buffer[] = [];
  ws.on("message", (message: Buffer) => frames.push(message));
  const code = await new Promise<number>((resolve, reject) => {
    ws.once("close", resolve);
    ws.once("error", reject);
  });
  expect(code).toBe(1000);
  const stdout = Buffer.concat(frames.filter((f) => f[0] === 1).map((f) => f.subarray(1))).toString();
  expect(stdout).toBe("secure\n");
  const status = Buffer.concat(frames.filter((f) => f[0] === 3).map((f) => f.subarray(1))).toString();
  expect(JSON.parse(status).status).toBe("Success");
});
