/** The bound every log line keeps: boundedLogger over the one Logger type (defined in @servin/cri-types, re-exported here). */
import { inspect } from "node:util";
import type { Logger } from "@servin/cri-types";

export { type Logger, type LogLevel, silentLogger } from "@servin/cri-types";

/** How far `boundedLogger` lets a line grow. */
export interface LogBounds {
  /** A run of non-blank (or of blank) characters longer than this keeps its first `run` characters and a `…(N more)` marker. */
  run: number;
  /** Characters per line (a message's stack trace has one line per frame). */
  line: number;
  /** Lines per entry. */
  lines: number;
  /** Characters per entry, all lines together. */
  total: number;
}

/**
 * Long enough for any CRI name that passes validation (253) in quotes with a
 * prefix, short enough that what formats it downstream stays cheap.
 */
export const DEFAULT_LOG_BOUNDS: LogBounds = { run: 300, line: 1000, lines: 40, total: 8192 };

const more = (n: number) => `…(${n} more)`;

function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0b || code === 0x0c || code === 0xa0;
}

/**
 * Bounds one log entry in a single linear pass: runs longer than `bounds.run`
 * are cut (user strings, such as a 1 MB pod name, are single runs), control
 * characters other than newline and tab are escaped (no forged lines, no
 * terminal escapes), each line is cut at `bounds.line`, and the entry at
 * `bounds.lines` lines and `bounds.total` characters.
 *
 * Why: the CLI's consola reporter measures each line's display width with
 * Intl.Segmenter, whose iteration is quadratic in the string length on
 * Node 20 (an 80 KB message took 23.6 s and froze the event loop). Whatever
 * formats the entry downstream now only ever sees short lines.
 *
 * @example
 * boundLogText(`pod "${"a".repeat(1_000_000)}" created`); // 'pod "aaa…(999701 more)'
 */
export function boundLogText(text: string, bounds: LogBounds = DEFAULT_LOG_BOUNDS): string {
  let out = "";
  let lineLength = 0;
  let lines = 1;
  let runLength = 0;
  let runBlank = false;
  let i = 0;
  const n = text.length;
  for (; i < n; i++) {
    if (out.length >= bounds.total) break;
    const code = text.charCodeAt(i);
    if (code === 0x0a) {
      if (lines >= bounds.lines) break;
      out += "\n";
      lines++;
      lineLength = 0;
      runLength = 0;
      continue;
    }
    if (lineLength >= bounds.line) {
      // Skip to the end of this line, saying how much was dropped.
      let end = text.indexOf("\n", i);
      if (end < 0) end = n;
      out += more(end - i);
      i = end - 1;
      lineLength = 0;
      continue;
    }
    const blank = isBlank(code);
    if (blank !== runBlank) {
      runBlank = blank;
      runLength = 0;
    }
    runLength++;
    if (runLength > bounds.run) {
      // Skip the rest of this run.
      let end = i;
      while (end < n) {
        const c = text.charCodeAt(end);
        if (c === 0x0a || isBlank(c) !== runBlank) break;
        end++;
      }
      const marker = more(end - i);
      out += marker;
      lineLength += marker.length;
      i = end - 1;
      runLength = 0;
      continue;
    }
    let piece: string;
    if (code < 0x20 && code !== 0x09) piece = `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code === 0x7f || code === 0x9b) piece = `\\x${code.toString(16)}`;
    else piece = text[i]!;
    out += piece;
    lineLength += piece.length;
  }
  if (i < n) out += more(n - i);
  return out;
}

/** One argument of a log call as text, never more than about `bounds.total` characters of work to print. */
function formatArg(arg: unknown, bounds: LogBounds): string {
  if (typeof arg === "string") return arg;
  try {
    return inspect(arg, {
      depth: 3,
      maxArrayLength: 20,
      maxStringLength: bounds.run,
      breakLength: Number.POSITIVE_INFINITY,
      colors: false,
    });
  } catch {
    return "[uninspectable value]";
  }
}

/**
 * Wraps a logger so that every entry reaches it as one bounded string (see
 * `boundLogText`): logging costs time linear in its input and never more
 * than a few KB per entry, whatever strings a client sent.
 *
 * @example
 * const logger = boundedLogger(consola);
 * logger.info(`pod sandbox "${name}" is ready`); // a 1 MB name prints as 300 characters and "…(N more)"
 */
export function boundedLogger(inner: Logger, bounds: LogBounds = DEFAULT_LOG_BOUNDS): Logger {
  const entry = (message: unknown, args: unknown[]): string => {
    // Each part bounded on its own first, so that a huge message does not hide the error after it.
    let text = boundLogText(formatArg(message, bounds), bounds);
    for (const arg of args) {
      if (text.length > bounds.total) break;
      text += ` ${boundLogText(formatArg(arg, bounds), bounds)}`;
    }
    // Runs are already cut (with their markers, which a second cut would mangle); bound lines and size.
    return boundLogText(text, { ...bounds, run: Number.POSITIVE_INFINITY });
  };
  const enabled = inner.enabled?.bind(inner);
  return {
    debug: (message, ...args) => inner.debug(entry(message, args)),
    info: (message, ...args) => inner.info(entry(message, args)),
    warn: (message, ...args) => inner.warn(entry(message, args)),
    error: (message, ...args) => inner.error(entry(message, args)),
    // What the inner logger writes, when it says.
    ...(enabled ? { enabled } : {}),
  };
}
