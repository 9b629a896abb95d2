/** PortForward (streaming): one connection to a port in the pod's network namespace, through a helper per connection. */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { CriError } from "@servin/cri-types";
import type { SandboxRecord } from "@servin/runtime-core";
import type { OciContext } from "../_context.js";
import { helperBinaries } from "../_helpers.js";
import { sandboxState } from "./_state.js";

/**
 * Node cannot setns(2), so each connection runs `nsenter --net=<netns>
 * busybox nc 127.0.0.1 <port>` with the stream as its stdio: busybox nc
 * passes stdin's end on as shutdown(SHUT_WR) and exits once the pod side
 * closes. The netns is the pod's pinned CNI namespace, else the infra's.
 * Host-network pods connect directly. On `signal` the helper is killed.
 */
export async function portForwardStream(
  ctx: OciContext,
  sandbox: SandboxRecord,
  port: number,
  stream: Duplex,
  signal: AbortSignal,
): Promise<void> {
  const state = sandboxState(ctx, sandbox);
  if (state.modes.network === "node") return forwardHost(port, stream, signal);
  const netns = state.netns ?? (state.pid > 0 ? `/proc/${state.pid}/ns/net` : undefined);
  if (!netns)
    throw CriError.failedPrecondition(`pod sandbox "${sandbox.id}" has no network namespace: is it running?`);
  const { nsenter, busybox } = helperBinaries();
  if (!nsenter || !busybox)
    throw CriError.failedPrecondition("port-forward needs nsenter and busybox on the host (busybox-static)");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(nsenter, [`--net=${netns}`, busybox, "nc", "127.0.0.1", String(port)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    // nc's complaint when it cannot connect ("can't connect to remote host (127.0.0.1): Connection refused").
    const errText: Buffer[] = [];
    child.stderr.on("data", (d: Buffer) => errText.length < 16 && errText.push(d));
    const abort = () => child.kill("SIGKILL");
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
    child.stdin.on("error", () => {});
    stream.on("error", () => child.kill("SIGKILL"));
    stream.pipe(child.stdin);
    child.stdout.pipe(stream);
    child.once("error", (err) => {
      signal.removeEventListener("abort", abort);
      reject(err);
    });
    child.once("close", (code) => {
      signal.removeEventListener("abort", abort);
      stream.unpipe(child.stdin);
      const why = Buffer.concat(errText).toString().trim();
      if (code !== 0 && why && !signal.aborted)
        reject(
          new CriError("Unavailable", `connect to port ${port} in the pod: ${why.replace(/^nc: /, "")}`),
        );
      else resolve();
    });
  });
}

/** Host network: the pod's ports are the node's. */
function forwardHost(port: number, stream: Duplex, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const abort = () => socket.destroy();
    signal.addEventListener("abort", abort, { once: true });
    let connected = false;
    socket.once("connect", () => {
      connected = true;
      stream.pipe(socket);
      socket.pipe(stream);
    });
    // The pod side closing ends the forwarded connection (containerd returns on the first finished copy).
    socket.once("end", () => socket.end());
    stream.on("error", () => socket.destroy());
    socket.on("error", (err) => {
      if (!connected) reject(new CriError("Unavailable", `connect to port ${port}: ${err.message}`));
    });
    socket.once("close", () => {
      signal.removeEventListener("abort", abort);
      stream.unpipe(socket);
      resolve();
    });
  });
}
