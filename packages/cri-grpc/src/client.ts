/** createCriGrpcClient: RuntimeService and ImageService over the CRI gRPC API (any CRI runtime, servin included). */
import {
  type ChannelOptions,
  Client,
  type ClientReadableStream,
  credentials,
  status as GrpcStatus,
  Metadata,
  type MethodDefinition,
} from "@grpc/grpc-js";
import { decodeResponse, encodeRequest, RPC_NAMES, RPCS, type RpcName } from "@servin/cri-messages";
import type { CallOptions, ImageService, RuntimeService } from "@servin/cri-types";
import { type CriApiVersion, criServiceDefinitions } from "./proto.js";
import { CRI_MAX_MESSAGE_BYTES } from "./server.js";
import { criErrorFromGrpc } from "./status.js";

export interface CriGrpcClientOptions {
  /** Which package to call: "v1" (default) or "v1alpha2". */
  apiVersion?: CriApiVersion;
  /** Deadline of every unary call, in ms (none by default; pass a signal to cancel). */
  timeoutMs?: number;
  channelOptions?: ChannelOptions;
}

/** A CRI client with the same methods as the domain services; errors are CriErrors. */
export type CriGrpcClient = RuntimeService &
  ImageService & {
    readonly apiVersion: CriApiVersion;
    /** Closes the channel; calls in flight fail. */
    close(): void;
  };

type AnyMethod = MethodDefinition<unknown, unknown>;

/**
 * Connects to a CRI gRPC endpoint. `target` is a gRPC target such as
 * `unix:///run/servin/servin.sock` or `127.0.0.1:10010`; a bare absolute
 * path is taken as a unix socket. Requests and responses go through
 * @servin/cri-messages ("proto" format), so callers use the domain types.
 *
 * @example
 * const cri = createCriGrpcClient("unix:///run/servin/servin.sock");
 * const { runtimeApiVersion } = await cri.version({});
 * const { podSandboxId } = await cri.runPodSandbox({ config: { metadata: { name: "web", namespace: "default", uid: "1" } } });
 * cri.close();
 */
export function createCriGrpcClient(target: string, opts: CriGrpcClientOptions = {}): CriGrpcClient {
  const apiVersion = opts.apiVersion ?? "v1";
  const defs = criServiceDefinitions(apiVersion);
  const channel = new Client(
    target.startsWith("/") ? `unix://${target}` : target,
    credentials.createInsecure(),
    {
      "grpc.max_receive_message_length": CRI_MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": CRI_MAX_MESSAGE_BYTES,
      ...opts.channelOptions,
    },
  );

  const unary =
    (rpc: RpcName, def: AnyMethod) =>
    (req: unknown, callOpts?: CallOptions): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const signal = callOpts?.signal;
        if (signal?.aborted) return reject(signal.reason);
        let wire: unknown;
        try {
          wire = encodeRequest(rpc, (req ?? {}) as never, "proto");
        } catch (err) {
          return reject(err);
        }
        const onAbort = () => call.cancel();
        const deadline = opts.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {};
        const call = channel.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          wire,
          new Metadata(),
          deadline,
          (err, res) => {
            signal?.removeEventListener("abort", onAbort);
            if (err) return reject(signal?.aborted ? signal.reason : criErrorFromGrpc(err));
            try {
              resolve(decodeResponse(rpc, res as never, "proto"));
            } catch (decodeErr) {
              reject(decodeErr);
            }
          },
        );
        signal?.addEventListener("abort", onAbort, { once: true });
      });

  const serverStream = (rpc: RpcName, def: AnyMethod) =>
    async function* (req: unknown, callOpts?: CallOptions): AsyncGenerator<unknown> {
      const signal = callOpts?.signal;
      if (signal?.aborted) return;
      const wire = encodeRequest(rpc, (req ?? {}) as never, "proto");
      const call: ClientReadableStream<unknown> = channel.makeServerStreamRequest(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        wire,
        new Metadata(),
        {},
      );
      const onAbort = () => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for await (const message of call) yield decodeResponse(rpc, message as never, "proto");
      } catch (err) {
        // Our own cancel ends the stream with CANCELLED: that is the normal end, not an error.
        if ((err as { code?: number }).code === GrpcStatus.CANCELLED && signal?.aborted) return;
        throw criErrorFromGrpc(err as { code?: number; details?: string });
      } finally {
        signal?.removeEventListener("abort", onAbort);
        call.cancel();
      }
    };

  const methods: Record<string, unknown> = {
    apiVersion,
    close: () => channel.close(),
  };
  for (const rpc of RPC_NAMES) {
    const spec = RPCS[rpc];
    const def = (spec.service === "runtime" ? defs.RuntimeService : defs.ImageService)[
      spec.grpc
    ] as AnyMethod;
    methods[rpc] = spec.kind === "server-stream" ? serverStream(rpc, def) : unary(rpc, def);
  }
  return methods as unknown as CriGrpcClient;
}
