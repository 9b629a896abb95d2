/** The public option types of the gRPC server: TCP admission and the Version answer. */
import type { VersionResponse } from "@servin/cri-types";

/** Who is on the other end of a TCP connection. */
export interface TcpPeer {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

/** How TCP callers are admitted; see CriGrpcServerOptions.tcpAuth. */
export interface CriGrpcTcpAuth {
  /** Bearer token; when set, every TCP call must send metadata `authorization: Bearer <token>`. */
  token?: string;
  /** When no token is set: admits a TCP peer (e.g. its socket is owned by root). Others get PERMISSION_DENIED. */
  trustPeer?: (peer: TcpPeer) => boolean | Promise<boolean>;
}

/** Fields of VersionResponse the server sets itself (runtimeApiVersion follows the package served). */
export type VersionInfo = Partial<Pick<VersionResponse, "version" | "runtimeName" | "runtimeVersion">>;
