/** Why Exec, Attach and PortForward answer Unimplemented when no streaming server was given. */
export const NO_STREAMING =
  "this servin has no streaming server (the memory backend, or none configured): use ExecSync for non-interactive commands";
