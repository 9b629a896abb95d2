/** The one table between CriError codes and gRPC status codes, both ways. */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { CriError, type CriErrorCode, toCriError } from "@servin/cri-types";

/** CriError code → gRPC status code. The CRI codes are named after gRPC's, so this is one-to-one. */
export const GRPC_STATUS_BY_CRI_CODE: Readonly<Record<CriErrorCode, GrpcStatus>> = Object.freeze({
  InvalidArgument: GrpcStatus.INVALID_ARGUMENT,
  NotFound: GrpcStatus.NOT_FOUND,
  AlreadyExists: GrpcStatus.ALREADY_EXISTS,
  FailedPrecondition: GrpcStatus.FAILED_PRECONDITION,
  Unimplemented: GrpcStatus.UNIMPLEMENTED,
  DeadlineExceeded: GrpcStatus.DEADLINE_EXCEEDED,
  Internal: GrpcStatus.INTERNAL,
  Unavailable: GrpcStatus.UNAVAILABLE,
  Unauthenticated: GrpcStatus.UNAUTHENTICATED,
  ResourceExhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  Aborted: GrpcStatus.ABORTED,
});

// The other gRPC codes have no CriError counterpart; a client maps them to the nearest one.
const NEAREST_CRI_CODE: Partial<Record<GrpcStatus, CriErrorCode>> = {
  [GrpcStatus.CANCELLED]: "Aborted",
  [GrpcStatus.UNKNOWN]: "Internal",
  [GrpcStatus.PERMISSION_DENIED]: "Unauthenticated",
  [GrpcStatus.OUT_OF_RANGE]: "InvalidArgument",
  [GrpcStatus.DATA_LOSS]: "Internal",
};

/** gRPC status code → the CriError code a client sees (the nearest one for codes the CRI lacks). */
export const CRI_CODE_OF_GRPC: Readonly<Partial<Record<GrpcStatus, CriErrorCode>>> = {
  ...NEAREST_CRI_CODE,
  ...Object.fromEntries(Object.entries(GRPC_STATUS_BY_CRI_CODE).map(([cri, grpc]) => [grpc, cri])),
};

/**
 * The gRPC status for any thrown value: CriErrors by their code, anything else INTERNAL.
 *
 * @example
 * grpcStatusOf(CriError.notFound(`container "3f2a" not found`));
 * // { code: 5, details: 'container "3f2a" not found' }
 */
export function grpcStatusOf(err: unknown): { code: GrpcStatus; details: string } {
  const cri = toCriError(err);
  return { code: GRPC_STATUS_BY_CRI_CODE[cri.code] ?? GrpcStatus.INTERNAL, details: cri.message };
}

/**
 * A CriError for a gRPC error received by a client (status code + details).
 *
 * @example
 * criErrorFromGrpc({ code: 5, details: "not found" }).code; // "NotFound"
 */
export function criErrorFromGrpc(err: { code?: number; details?: string; message?: string }): CriError {
  const code = (err.code !== undefined && CRI_CODE_OF_GRPC[err.code as GrpcStatus]) || "Internal";
  const message = err.details ?? err.message ?? "grpc call failed";
  return new CriError(code, message, { cause: err });
}
