/** Image reference parsing and normalising, the way docker and containerd do it. */
import { CriError } from "@servin/cri-types";

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host, with port if any: `docker.io`, `127.0.0.1:5000`, `localhost`. */
  domain: string;
  /** Repository path inside the registry: `library/alpine`. */
  path: string;
  /** `domain/path`: `docker.io/library/alpine`. */
  name: string;
  /** The tag; `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** `sha256:<64 hex>` (or another registered algorithm) when pinned by digest. */
  digest?: string;
  /** The normalised string: `name:tag`, `name@digest` or `name:tag@digest`. */
  string: string;
}

export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
const MAX_NAME_LENGTH = 255;

// The grammar of github.com/distribution/reference, written out piece by piece.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6_HOST = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]+$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_HEX = /^[a-f0-9]{64}$/;
const HEX64 = /^[a-f0-9]{64}$/;

function invalid(ref: string, why: string): CriError {
  return CriError.invalidArgument(`image reference "${ref}": ${why}`, [{ path: "image", message: why }]);
}

function validDomain(domain: string): boolean {
  let host = domain;
  const bracket = domain.startsWith("[") ? domain.indexOf("]") : -1;
  if (bracket > 0) {
    host = domain.slice(0, bracket + 1);
    const rest = domain.slice(bracket + 1);
    if (rest !== "" && !(rest.startsWith(":") && PORT.test(rest.slice(1)))) return false;
    return IPV6_HOST.test(host);
  }
  const colon = domain.lastIndexOf(":");
  if (colon >= 0) {
    if (!PORT.test(domain.slice(colon + 1))) return false;
    host = domain.slice(0, colon);
  }
  return host.split(".").every((part) => DOMAIN_COMPONENT.test(part));
}

/**
 * Parses and normalises an image reference exactly as docker and containerd
 * do: a missing registry means `docker.io`, single-name Docker Hub images live
 * under `library/`, a missing tag means `latest` (unless a digest pins the
 * image), `index.docker.io` is spelled `docker.io`.
 *
 * @throws CriError InvalidArgument naming the reference and what is wrong.
 * @example
 * parseReference("alpine").string;                 // "docker.io/library/alpine:latest"
 * parseReference("localhost:5000/app@sha256:" + "a".repeat(64)).digest; // "sha256:aaaa…"
 */
export function parseReference(ref: string): ImageReference {
  if (typeof ref !== "string" || ref.length === 0) throw invalid(String(ref), "expected a non-empty string");
  if (ref !== ref.trim()) throw invalid(ref, "must not contain leading or trailing whitespace");
  if (HEX64.test(ref)) {
    throw invalid(
      ref,
      "cannot use a 64-character hexadecimal string as a repository name (is it an image ID?)",
    );
  }

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw invalid(ref, `invalid digest "${digest}"`);
    const algo = digest.slice(0, digest.indexOf(":"));
    const hex = digest.slice(digest.indexOf(":") + 1);
    if (algo === "sha256" && !SHA256_HEX.test(hex)) {
      throw invalid(ref, `digest "${digest}": sha256 needs 64 lowercase hex characters`);
    }
    if (algo !== "sha256" && algo !== "sha512")
      throw invalid(ref, `digest algorithm "${algo}" is not supported`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalid(ref, `invalid tag "${tag}"`);
  }
  if (rest.length === 0) throw invalid(ref, "missing repository name");

  // The first component is a registry host only when it looks like one:
  // it has a dot or a port, is "localhost", or has upper-case letters.
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase()
    ) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!validDomain(domain)) throw invalid(ref, `invalid registry host "${domain}"`);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path.length === 0) throw invalid(ref, "missing repository name");
  for (const component of path.split("/")) {
    if (!PATH_COMPONENT.test(component)) {
      if (component.toLowerCase() !== component) throw invalid(ref, "repository name must be lowercase");
      throw invalid(ref, `invalid repository path component "${component}"`);
    }
  }
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL_REPO_PREFIX + path;

  const name = `${domain}/${path}`;
  if (name.length > MAX_NAME_LENGTH)
    throw invalid(ref, `repository name longer than ${MAX_NAME_LENGTH} characters`);
  if (tag === undefined && digest === undefined) tag = "latest";
  const string = name + (tag !== undefined ? `:${tag}` : "") + (digest !== undefined ? `@${digest}` : "");
  return { domain, path, name, string, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/**
 * The short form docker prints: `alpine:latest`, `myreg:5000/app:v1`.
 *
 * @example
 * familiarString(parseReference("docker.io/library/alpine")); // "alpine:latest"
 */
export function familiarString(ref: ImageReference): string {
  let name = ref.name;
  if (ref.domain === DEFAULT_DOMAIN) {
    name = ref.path.startsWith(OFFICIAL_REPO_PREFIX) ? ref.path.slice(OFFICIAL_REPO_PREFIX.length) : ref.path;
  }
  return name + (ref.tag !== undefined ? `:${ref.tag}` : "") + (ref.digest ? `@${ref.digest}` : "");
}

/** Parses a reference or returns undefined (for lookups that try other forms next). */
export function tryParseReference(ref: string): ImageReference | undefined {
  try {
    return parseReference(ref);
  } catch {
    return undefined;
  }
}
