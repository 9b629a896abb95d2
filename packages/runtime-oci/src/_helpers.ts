/** The host binaries streaming sessions run as per-session helpers: python3 (attach relay), nsenter + busybox nc (port-forward). */
import { findExecutable } from "./host.js";

export interface HelperBinaries {
  python3?: string;
  nsenter?: string;
  /** busybox (its `nc` applet half-closes on stdin EOF). */
  busybox?: string;
}

let cached: HelperBinaries | undefined;

/** Found once per process; the system python3 first (a pyenv shim costs a shell per session). */
export function helperBinaries(): HelperBinaries {
  if (cached) return cached;
  const python3 = findExecutable("/usr/bin/python3") ?? findExecutable("python3");
  const nsenter = findExecutable("nsenter");
  const busybox = findExecutable("busybox");
  cached = {
    ...(python3 ? { python3 } : {}),
    ...(nsenter ? { nsenter } : {}),
    ...(busybox ? { busybox } : {}),
  };
  return cached;
}
