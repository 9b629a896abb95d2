/** The error-stream payloads kubelet writes at the end of an Exec/Attach: metav1.Status JSON (v4+) or plain text. */

/** How a session ended: an exit code, or an error from the runtime. */
export type SessionOutcome = { exitCode: number } | { error: Error };

/** The metav1.Status kubelet writes for v4 and later (`NonZeroExitCode` with an `ExitCode` cause). */
export function statusV4(outcome: SessionOutcome): string {
  if ("error" in outcome) {
    const message = `error executing command in container: ${outcome.error.message}`;
    return JSON.stringify({
      metadata: {},
      status: "Failure",
      message: `Internal error occurred: ${message}`,
      reason: "InternalError",
      details: { causes: [{ message }] },
      code: 500,
    });
  }
  if (outcome.exitCode === 0) return JSON.stringify({ metadata: {}, status: "Success" });
  return JSON.stringify({
    metadata: {},
    status: "Failure",
    message: `command terminated with non-zero exit code: exit status ${outcome.exitCode}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(outcome.exitCode) }] },
  });
}

/** Before v4 only failures are written, as the status's message text; success writes nothing. */
export function statusV1(outcome: SessionOutcome): string | null {
  if ("error" in outcome) return `error executing command in container: ${outcome.error.message}`;
  if (outcome.exitCode === 0) return null;
  return `command terminated with non-zero exit code: exit status ${outcome.exitCode}`;
}

/**
 * Splits a byte stream of concatenated JSON objects (Go's json.Decoder input on the resize stream)
 * into terminal sizes. Bounded: an object longer than `maxObject` bytes ends the stream.
 */
export async function* terminalSizes(
  chunks: AsyncIterable<Buffer | string>,
  maxObject = 4096,
): AsyncIterable<{ width: number; height: number }> {
  let buffer = "";
  for await (const chunk of chunks) {
    buffer += typeof chunk === "string" ? chunk : chunk.toString("utf8");
    for (;;) {
      const start = buffer.indexOf("{");
      if (start < 0) {
        buffer = "";
        break;
      }
      const end = buffer.indexOf("}", start);
      if (end < 0) {
        buffer = buffer.slice(start);
        if (buffer.length > maxObject) return;
        break;
      }
      const text = buffer.slice(start, end + 1);
      buffer = buffer.slice(end + 1);
      try {
        const value = JSON.parse(text) as { Width?: unknown; Height?: unknown };
        const width = Number(value.Width);
        const height = Number(value.Height);
        if (Number.isInteger(width) && Number.isInteger(height) && width >= 0 && height >= 0) {
          if (width <= 65535 && height <= 65535) yield { width, height };
        }
      } catch {
        // kubelet stops reading on a decode error; a bad size is dropped, the session goes on
      }
    }
  }
}
