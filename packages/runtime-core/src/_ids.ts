/** ID generation and lookup by full ID or unique prefix, as crictl's truncated IDs need. */
import { randomBytes } from "node:crypto";
import { CriError } from "@servin/cri-types";

/** A new 64-hex ID from 32 crypto-random bytes (containerd and CRI-O use the same shape). */
export function newId<T extends string>(): T {
  return randomBytes(32).toString("hex") as T;
}

export interface PrefixLookup {
  /** "pod sandbox" or "container": used in error messages. */
  kind: string;
  /** The request field, for InvalidArgument messages ("podSandboxId"). */
  field: string;
}

/**
 * Resolves `query` against `ids`: an exact ID wins, otherwise a unique
 * prefix. Returns the match, or throws NotFound / InvalidArgument (ambiguous
 * prefix, empty query).
 */
export function resolveId<T extends string>(ids: Iterable<T>, query: string, what: PrefixLookup): T {
  const found = matchId(ids, query, what);
  if (found === undefined) throw CriError.notFound(`${what.kind} "${query}" not found`);
  return found;
}

/** Like resolveId, but returns undefined when nothing matches (the idempotent RPCs). */
export function matchId<T extends string>(
  ids: Iterable<T>,
  query: string,
  what: PrefixLookup,
): T | undefined {
  if (query === "") throw CriError.invalidArgument(`${what.field}: expected a non-empty ID`);
  let found: T | undefined;
  let ambiguous = false;
  for (const id of ids) {
    if (id === query) return id;
    if (id.startsWith(query)) {
      if (found !== undefined) ambiguous = true;
      found = id;
    }
  }
  if (ambiguous) {
    throw CriError.invalidArgument(`${what.field}: ${what.kind} ID prefix "${query}" is ambiguous`);
  }
  return found;
}
