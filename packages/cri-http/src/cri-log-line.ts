/** The CRI container log format that conmon writes and `servin logs` reads back, one line at a time. */

/** One parsed log line: when it was written, on which stream, and whether it continues on the next line. */
export interface CriLogLine {
  /** RFC 3339 timestamp with nanoseconds, as written (not re-formatted). */
  time: string;
  stream: "stdout" | "stderr";
  /** The `P` tag: the runtime split a long line here and the next entry continues it. */
  partial: boolean;
  content: string;
}

// `<time> <stream> <tags> <content>`: tags are `:`-separated and the first one is `P` (partial) or `F`
// (full), as kubelet's parseCRILog reads them; the content is everything after the single space that
// follows the tags, spaces included. A full line with empty content may end right after the tag.
const LINE = /^(\S+) (stdout|stderr) ([PF])(?::\S*)?(?: (.*))?$/s;

/**
 * Splits one CRI log line; undefined when the line is not in the CRI format.
 *
 * @example
 * parseCriLogLine("2024-01-02T03:04:05.123456789Z stdout F hello world");
 * // { time: "2024-01-02T03:04:05.123456789Z", stream: "stdout", partial: false, content: "hello world" }
 */
export function parseCriLogLine(line: string): CriLogLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  return { time: m[1]!, stream: m[2] as CriLogLine["stream"], partial: m[3] === "P", content: m[4] ?? "" };
}
