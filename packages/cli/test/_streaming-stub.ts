/**
 * What `servin exec|attach|port-forward` talk to in these tests: a REAL streaming server
 * (@servin/streaming over the host-process test runtime: real processes, real TCP) behind a tiny HTTP
 * stub of servin's API that answers Exec/Attach/PortForward with its URLs, and the status calls.
 */
import { createServer, type Server } from "node:http";
import { decodeRequest, encodeResponse, type RpcName } from "@servin/cri-messages";
import { type StreamingServer, startStreamingServer } from "@servin/streaming";
import { type HostProcessRuntime, hostProcessRuntime } from "../../streaming/test/host-process-runtime.js";

export interface StreamingStub {
  baseUrl: string;
  port: string;
  runtime: HostProcessRuntime;
  streaming: StreamingServer;
  /** Containers that `attach` sees, with the config it reads (tty, stdin). */
  containers: Map<string, { tty: boolean; stdin: boolean }>;
  /** Every RPC the stub answered, in order. */
  calls: RpcName[];
  close(): Promise<void>;
}

const ROUTES: Record<string, RpcName> = {
  "/v1/runtime/container/exec": "exec",
  "/v1/runtime/container/exec-sync": "execSync",
  "/v1/runtime/container/attach": "attach",
  "/v1/runtime/sandbox/port-forward": "portForward",
  "/v1/runtime/container/status": "containerStatus",
  "/v1/runtime/sandbox/status": "podSandboxStatus",
};

export async function startStreamingStub(
  options: { execUnimplemented?: boolean } = {},
): Promise<StreamingStub> {
  const runtime = hostProcessRuntime();
  const streaming = await startStreamingServer({ runtime });
  const containers = new Map<string, { tty: boolean; stdin: boolean }>();
  const calls: RpcName[] = [];
  const answer = async (rpc: RpcName, wire: unknown): Promise<unknown> => {
    if (rpc === "exec") {
      if (options.execUnimplemented)
        throw Object.assign(new Error("Exec is not implemented"), { status: 501, code: "Unimplemented" });
      return encodeResponse("exec", streaming.getExec(decodeRequest("exec", wire, "json")), "json");
    }
    if (rpc === "attach")
      return encodeResponse("attach", streaming.getAttach(decodeRequest("attach", wire, "json")), "json");
    if (rpc === "portForward")
      return encodeResponse(
        "portForward",
        streaming.getPortForward(decodeRequest("portForward", wire, "json")),
        "json",
      );
    if (rpc === "execSync") {
      const req = decodeRequest("execSync", wire, "json");
      return encodeResponse(
        "execSync",
        {
          stdout: new TextEncoder().encode(`sync:${req.cmd.join(" ")}\n`),
          stderr: new Uint8Array(),
          exitCode: 0,
        },
        "json",
      );
    }
    if (rpc === "containerStatus") {
      const { containerId } = decodeRequest("containerStatus", wire, "json");
      const config = containers.get(containerId);
      if (!config)
        throw Object.assign(new Error(`container "${containerId}" not found`), {
          status: 404,
          code: "NotFound",
        });
      return encodeResponse(
        "containerStatus",
        {
          status: {
            id: containerId,
            metadata: { name: containerId, attempt: 0 },
            state: "CONTAINER_RUNNING",
            createdAt: 1n,
            startedAt: 1n,
            finishedAt: 0n,
            exitCode: 0,
            image: { image: "busybox" },
            imageRef: "sha256:0",
          },
          info: { info: JSON.stringify({ config }) },
        } as never,
        "json",
      );
    }
    const { podSandboxId } = decodeRequest("podSandboxStatus", wire, "json");
    return encodeResponse(
      "podSandboxStatus",
      {
        status: {
          id: `${podSandboxId}-full`,
          metadata: { name: "p", uid: "u", namespace: "n", attempt: 0 },
          state: "SANDBOX_READY",
          createdAt: 1n,
        },
      } as never,
      "json",
    );
  };
  const http: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk));
    req.on("end", () => {
      const rpc = ROUTES[req.url ?? ""];
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (!rpc) return reply(404, { error: { code: "NotFound", message: `no route ${req.url}` } });
      calls.push(rpc);
      answer(rpc, JSON.parse(body || "{}")).then(
        (value) => reply(200, value),
        (err: Error & { status?: number; code?: string }) =>
          reply(err.status ?? 400, { error: { code: err.code ?? "InvalidArgument", message: err.message } }),
      );
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const address = http.address();
  const port = String(typeof address === "object" && address ? address.port : 0);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    runtime,
    streaming,
    containers,
    calls,
    async close() {
      await streaming.close();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
