/** Loads the seccomp profile a container or pod asks for: Localhost files read from the host, checked and size-capped. */
import { readFile, stat } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { CriError } from "@servin/cri-types";
import {
  chooseSeccompProfile,
  parseSeccompProfile,
  type SeccompChoice,
  type SeccompProfileFile,
  type SeccompSecurityContext,
} from "./spec/seccomp.js";

/** Real profiles are a few KiB (moby's default is ~13 KiB); anything this large is a wrong path. */
export const MAX_SECCOMP_PROFILE_BYTES = 1024 * 1024;

/**
 * Reads and validates a Localhost profile. Bad references (relative path,
 * oversized or malformed file) are InvalidArgument; a file missing on this
 * host is FailedPrecondition (the request may succeed once it is installed).
 */
export async function loadLocalhostProfile(path: string, what: string): Promise<SeccompProfileFile> {
  if (!isAbsolute(path)) {
    throw CriError.invalidArgument(`${what}: seccomp localhost profile "${path}" must be an absolute path`);
  }
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw CriError.failedPrecondition(
      `${what}: seccomp localhost profile "${path}" ${code === "ENOENT" ? "does not exist on this host" : `cannot be read (${code})`}`,
    );
  }
  if (!st.isFile()) {
    throw CriError.failedPrecondition(`${what}: seccomp localhost profile "${path}" is not a regular file`);
  }
  if (st.size > MAX_SECCOMP_PROFILE_BYTES) {
    throw CriError.invalidArgument(
      `${what}: seccomp localhost profile "${path}" is ${st.size} bytes (at most ${MAX_SECCOMP_PROFILE_BYTES})`,
    );
  }
  return parseSeccompProfile(await readFile(path, "utf8"), path);
}

/** The profile choice, plus the loaded file when it is Localhost. */
export async function resolveSeccomp(
  security: SeccompSecurityContext | undefined,
  what: string,
): Promise<{ choice: SeccompChoice; localhost?: SeccompProfileFile }> {
  const choice = chooseSeccompProfile(security, what);
  if (choice.type !== "Localhost") return { choice };
  return { choice, localhost: await loadLocalhostProfile(choice.path, what) };
}
