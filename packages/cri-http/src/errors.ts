/** The one table that maps CriError codes to HTTP statuses, and the JSON error body. */
import { CriError, type CriErrorCode } from "@servin/cri-types";

export const httpStatusOf: Record<CriErrorCode, number> = {
  InvalidArgument: 400,
  Unauthenticated: 401,
  NotFound: 404,
  AlreadyExists: 409,
  FailedPrecondition: 409,
  Aborted: 409,
  ResourceExhausted: 429,
  Internal: 500,
  Unimplemented: 501,
  Unavailable: 503,
  DeadlineExceeded: 504,
};

/** Codes for HTTP-level failures that have no CRI code of their own. */
export type HttpOnlyCode =
  | "MethodNotAllowed"
  | "PayloadTooLarge"
  | "UnsupportedMediaType"
  | "PermissionDenied"
  | "RequestTimeout";

export interface ErrorBody {
  error: { code: CriErrorCode | HttpOnlyCode; message: string; details?: unknown };
}

export function errorBody(code: CriErrorCode | HttpOnlyCode, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

const STATUS_TO_CODE: Record<number, CriErrorCode> = {
  400: "InvalidArgument",
  401: "Unauthenticated",
  // The CRI has no PermissionDenied code of its own; a refused peer is, for callers, not authenticated.
  403: "Unauthenticated",
  404: "NotFound",
  408: "DeadlineExceeded",
  409: "FailedPrecondition",
  413: "InvalidArgument",
  429: "ResourceExhausted",
  501: "Unimplemented",
  503: "Unavailable",
  504: "DeadlineExceeded",
};

/** Rebuilds a CriError from an error answer (used by the client). */
export function criErrorFromBody(status: number, body: unknown): CriError {
  const err = (body as Partial<ErrorBody> | undefined)?.error;
  const known = err && typeof err.code === "string" && err.code in httpStatusOf;
  const code = known ? (err.code as CriErrorCode) : (STATUS_TO_CODE[status] ?? "Internal");
  const message = err && typeof err.message === "string" ? err.message : `http status ${status}`;
  return new CriError(code, message, { details: err?.details });
}
