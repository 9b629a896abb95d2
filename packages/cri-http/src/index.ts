/** @servin/cri-http: the Servin CRI over HTTP/JSON as a mountable Hono app, its Node adapter and a typed client. */
export { type AccessObserver, type AccessRecord, accessLog } from "./access-log.js";
export {
  type CriAppOptions,
  createCriApp,
  type ImageTransfer,
  type RefusalObserver,
  type RequestObserver,
} from "./app.js";
export { type CriClient, type CriClientOptions, createCriClient, type HealthAnswer } from "./client.js";
export {
  type ContainerLogOptions,
  type ContainerLogQuery,
  containerLogsHandler,
  parseLogQuery,
  parseSince,
} from "./container-logs.js";
export { type CriLogLine, parseCriLogLine } from "./cri-log-line.js";
export { criErrorFromBody, type ErrorBody, errorBody, httpStatusOf } from "./errors.js";
export { type ContainerLogRequest, containerLogs, type ServinInfo, servinInfo } from "./logs-client.js";
export { DEFAULT_PEER_DENIED, peerAdmission, type TcpPeer, type TrustPeer, tcpPeerOf } from "./peer.js";
export { type CriRoute, criRoutes } from "./routes/index.js";
export { type ListeningServer, listenCriApp } from "./serve.js";
