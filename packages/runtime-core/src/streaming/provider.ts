/** The streaming seam of the runtime service: who issues the URLs (a streaming server) and the runtime it serves sessions with. */
import type { Duplex } from "node:stream";
import type { AttachRequest, ExecRequest, PortForwardRequest } from "@servin/cri-types";
import {
  findContainer,
  findSandbox,
  type RuntimeContext,
  requireContainerState,
  requireSandboxReady,
} from "../_context.js";
import type { StreamSessionIo, StreamTerminalSize } from "../backend.js";

/**
 * Issues single-use URLs for checked requests (the shape of @servin/streaming's server:
 * it validates the stream selection, kubelet's rules, and throws InvalidArgument naming the field).
 */
export interface StreamingProvider {
  getExec(req: ExecRequest): { url: string };
  getAttach(req: AttachRequest): { url: string };
  getPortForward(req: PortForwardRequest): { url: string };
}

/** What the streaming server runs sessions with (structurally @servin/streaming's StreamingRuntime). */
export interface ServiceStreamingRuntime {
  exec(
    spec: { containerId: string; cmd: readonly string[]; tty: boolean; initialSize?: StreamTerminalSize },
    io: StreamSessionIo,
  ): Promise<{ exitCode: number }>;
  attach(
    spec: { containerId: string; tty: boolean; initialSize?: StreamTerminalSize },
    io: StreamSessionIo,
  ): Promise<void>;
  portForward(
    spec: { podSandboxId: string; port: number },
    stream: Duplex,
    signal: AbortSignal,
  ): Promise<void>;
}

/**
 * Sessions on the index: the container must still be RUNNING (and the pod READY) when the client
 * connects, not only when the URL was issued; the backend gets the records.
 */
export function streamingRuntime(ctx: RuntimeContext): ServiceStreamingRuntime | undefined {
  const backend = ctx.backend.streaming;
  if (!backend) return undefined;
  return {
    async exec(spec, io) {
      const entry = findContainer(ctx, spec.containerId);
      requireContainerState(entry, ["CONTAINER_RUNNING"], "Exec");
      return backend.exec(entry.record, spec, io);
    },
    async attach(spec, io) {
      const entry = findContainer(ctx, spec.containerId);
      requireContainerState(entry, ["CONTAINER_RUNNING"], "Attach");
      return backend.attach(entry.record, spec, io);
    },
    async portForward(spec, stream, signal) {
      const entry = findSandbox(ctx, spec.podSandboxId);
      requireSandboxReady(entry, "PortForward");
      return backend.portForward(entry.record, spec.port, stream, signal);
    },
  };
}
