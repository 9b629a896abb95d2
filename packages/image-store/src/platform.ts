/** Platform: the OS/architecture an image is chosen for from a manifest list, and the host's own. */
import { arch } from "node:os";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * The host platform in OCI terms (GOOS/GOARCH names).
 *
 * @example
 * hostPlatform(); // { os: "linux", architecture: "amd64" }
 */
export function hostPlatform(): Platform {
  const map: Record<string, string> = {
    x64: "amd64",
    ia32: "386",
    arm64: "arm64",
    arm: "arm",
    ppc64: "ppc64le",
  };
  const architecture = map[arch()] ?? arch();
  const p: Platform = { os: "linux", architecture };
  if (architecture === "arm64") p.variant = "v8";
  if (architecture === "arm") {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    p.variant = `v${v ?? "7"}`;
  }
  return p;
}
