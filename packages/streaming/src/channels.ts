/**
 * Kubelet's channel framing for remotecommand and port-forward over WebSocket: the first byte of each
 * message names its channel. Shared by the server here and by clients (the `servin` CLI).
 */
export const CHANNEL = {
  stdin: 0,
  stdout: 1,
  stderr: 2,
  /** The session's end status (metav1.Status JSON from v4 on); for port-forward, the connection's errors. */
  error: 3,
  /** Terminal sizes as JSON (`{"Width":…,"Height":…}`). */
  resize: 4,
  /** v5: `[255, n]` from the client closes channel n (the only way to half-close stdin over WebSocket). */
  close: 255,
} as const;
