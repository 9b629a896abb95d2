/** @servin/cri-grpc: the Kubernetes CRI (runtime.v1 and v1alpha2) over gRPC, server and client. */
export { type CriGrpcClient, type CriGrpcClientOptions, createCriGrpcClient } from "./client.js";
export {
  CRI_API_VERSIONS,
  CRI_PROTO_PATH,
  type CriApiVersion,
  type CriServiceDefinitions,
  criServiceDefinitions,
  loadCriPackageDefinition,
  PROTO_LOADER_OPTIONS,
} from "./proto.js";
export {
  CRI_MAX_MESSAGE_BYTES,
  CRI_SERVER_CHANNEL_OPTIONS,
  type CriGrpcAddress,
  type CriGrpcServer,
  type CriGrpcServerOptions,
  type CriGrpcTcpAuth,
  createCriGrpcServer,
  DEFAULT_MAX_TCP_CONNECTIONS,
  type TcpPeer,
  type VersionInfo,
} from "./server.js";
export { criErrorFromGrpc, GRPC_STATUS_BY_CRI_CODE, grpcStatusOf } from "./status.js";
