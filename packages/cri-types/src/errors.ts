/** The one error type that crosses Servin's layers; adapters map `code` to HTTP or gRPC in one table each. */

/** CRI error codes, named after the gRPC status codes they map to. */
export const CriErrorCode = {
  InvalidArgument: "InvalidArgument",
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  FailedPrecondition: "FailedPrecondition",
  Unimplemented: "Unimplemented",
  Internal: "Internal",
  DeadlineExceeded: "DeadlineExceeded",
  Unavailable: "Unavailable",
  Unauthenticated: "Unauthenticated",
  ResourceExhausted: "ResourceExhausted",
  Aborted: "Aborted",
} as const;
export type CriErrorCode = (typeof CriErrorCode)[keyof typeof CriErrorCode];

/** One offending field of a request: its dotted path and what was expected. */
export interface FieldIssue {
  path: string;
  message: string;
}

export interface CriErrorOptions {
  /** Machine-readable details (for InvalidArgument: the list of field issues). */
  details?: unknown;
  cause?: unknown;
}

/**
 * An error with a CRI code. Messages are lowercase and name the input that failed.
 *
 * @example
 * throw new CriError("NotFound", `container "3f2a" not found`);
 */
export class CriError extends Error {
  readonly code: CriErrorCode;
  readonly details: unknown;

  constructor(code: CriErrorCode, message: string, options: CriErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CriError";
    this.code = code;
    this.details = options.details;
  }

  static invalidArgument(message: string, issues?: FieldIssue[]): CriError {
    return new CriError("InvalidArgument", message, issues ? { details: { fields: issues } } : {});
  }
  static notFound(message: string): CriError {
    return new CriError("NotFound", message);
  }
  static alreadyExists(message: string): CriError {
    return new CriError("AlreadyExists", message);
  }
  static failedPrecondition(message: string): CriError {
    return new CriError("FailedPrecondition", message);
  }
  static unimplemented(rpc: string, why?: string): CriError {
    return new CriError("Unimplemented", `${rpc} is not implemented${why ? `: ${why}` : ""}`);
  }
  static internal(message: string, cause?: unknown): CriError {
    return new CriError("Internal", message, { cause });
  }
}

/** True when `err` is a CriError (also across duplicated module copies). */
export function isCriError(err: unknown): err is CriError {
  return (
    err instanceof CriError ||
    (typeof err === "object" &&
      err !== null &&
      (err as { name?: unknown }).name === "CriError" &&
      typeof (err as { code?: unknown }).code === "string")
  );
}

/** Wraps any thrown value as a CriError; unknown faults become Internal. */
export function toCriError(err: unknown): CriError {
  if (isCriError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CriError("Internal", message, { cause: err });
}
