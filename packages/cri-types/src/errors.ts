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

/** Longest run of non-blank characters a message keeps (a CRI name is at most 253), and longest message. */
const MESSAGE_RUN_MAX = 300;
const MESSAGE_MAX = 4096;

/**
 * Bounds an error message in one linear pass: a run of non-blank characters
 * longer than MESSAGE_RUN_MAX keeps its head and a `…(N more)` marker, and
 * the whole message at most MESSAGE_MAX characters. Messages quote client
 * input (`container "<id>" not found`); a 1 MB ID must not become a 1 MB
 * HTTP error body or a gRPC `grpc-message` trailer larger than clients accept
 * (the call then never completes).
 *
 * @example
 * boundErrorMessage(`container "${"a".repeat(10_000)}" not found`); // 'container "aaa…(9702 more) not found' (300 characters kept)
 */
export function boundErrorMessage(message: string): string {
  if (message.length <= MESSAGE_RUN_MAX) return message;
  let out = "";
  let run = 0;
  for (let i = 0; i < message.length; i++) {
    if (out.length >= MESSAGE_MAX) return `${out}…(${message.length - i} more)`;
    const c = message.charCodeAt(i);
    const blank = c === 0x20 || c === 0x0a || c === 0x09;
    run = blank ? 0 : run + 1;
    if (run > MESSAGE_RUN_MAX) {
      let end = i;
      while (end < message.length) {
        const e = message.charCodeAt(end);
        if (e === 0x20 || e === 0x0a || e === 0x09) break;
        end++;
      }
      out += `…(${end - i} more)`;
      i = end - 1;
      run = 0;
      continue;
    }
    out += message[i];
  }
  return out;
}

/**
 * An error with a CRI code. Messages are lowercase and name the input that
 * failed; they are bounded (see `boundErrorMessage`).
 *
 * @example
 * throw new CriError("NotFound", `container "3f2a" not found`);
 */
export class CriError extends Error {
  readonly code: CriErrorCode;
  readonly details: unknown;

  constructor(code: CriErrorCode, message: string, options: CriErrorOptions = {}) {
    super(boundErrorMessage(message), options.cause === undefined ? undefined : { cause: options.cause });
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
