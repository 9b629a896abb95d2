/**
 * The daemon's log lines: a level, a format (text or JSON lines) and a destination. Plain text with an
 * ISO timestamp, or one JSON object per line, whenever the destination is not a terminal (or NO_COLOR
 * is set): no glyphs, no ANSI colours in files and journald. Glyphs and colours only on a terminal.
 */
import { inspect } from "node:util";
import { boundLogText, type Logger, type LogLevel } from "@servin/node-kit";

/** The Logger's levels (one type, cri-types'), least severe first: for the flag, the env variable and the config key. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const satisfies readonly LogLevel[];
export type { LogLevel };
export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Structured fields of one entry: JSON keys, or ` key=value` after the message in text. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** A Logger that also takes structured fields, and always says which levels it writes. */
export interface DaemonLogger extends Logger {
  /** One entry with fields (an access line, a metric-worthy event). */
  entry(level: LogLevel, msg: string, fields?: LogFields): void;
  /** Logger's `enabled`, never missing here: skip building fields that would be dropped. */
  enabled(level: LogLevel): boolean;
}

export interface DaemonLoggerOptions {
  level: LogLevel;
  format: LogFormat;
  /** Default: process.stderr (as containerd and CRI-O, the daemon logs to stderr; journald keeps it). */
  stream?: { write(chunk: string): unknown; isTTY?: boolean };
  /** Glyphs and colours; default: the stream is a terminal and NO_COLOR is unset. */
  decorate?: boolean;
  /** The clock (tests). */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
const GLYPH: Record<LogLevel, string> = { debug: "⚙", info: "ℹ", warn: "⚠", error: "✖" };
const COLOUR: Record<LogLevel, number> = { debug: 90, info: 36, warn: 33, error: 31 };

/** Whether `value` names a level; for the flag, the env variable and the config key alike. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

/** Whether output to `stream` may carry glyphs and colours: a terminal, and no NO_COLOR (https://no-color.org). */
export function terminalDecorations(stream: { isTTY?: boolean }, env = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

/**
 * Every part of an entry is bounded (node-kit's boundLogText: long runs cut, control characters
 * escaped), so a client-sent string can neither flood the log nor forge a line or a terminal escape.
 */
function textOf(args: unknown[]): { msg: string; error?: string } {
  const parts: string[] = [];
  let error: string | undefined;
  for (const arg of args) {
    if (arg instanceof Error) {
      // Kept apart: JSON gets it as its own field, text on the lines after the message.
      error = boundLogText(arg.stack ?? `${arg.name}: ${arg.message}`);
      if (parts.length === 0) parts.push(arg.message);
    } else parts.push(typeof arg === "string" ? arg : inspectBounded(arg));
  }
  return { msg: boundLogText(parts.join(" ")), ...(error ? { error } : {}) };
}

/** An object argument as text, with the work bounded as node-kit's boundedLogger bounds it. */
function inspectBounded(value: unknown): string {
  try {
    return inspect(value, {
      depth: 3,
      maxArrayLength: 20,
      maxStringLength: 300,
      breakLength: Number.POSITIVE_INFINITY,
      colors: false,
    });
  } catch {
    return "[uninspectable value]";
  }
}

/** `key=value`, quoted when the value has a blank, a quote or an equals sign (logfmt's rule). */
function logfmt(fields: LogFields): string {
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = boundLogText(String(value));
    out += ` ${key}=${/[\s"=]/.test(text) || text === "" ? JSON.stringify(text) : text}`;
  }
  return out;
}

/**
 * The daemon's logger.
 *
 * @example
 * const log = createDaemonLogger({ level: "info", format: "json" });
 * log.info("servin listening on http://127.0.0.1:8080");
 * // {"time":"2026-01-02T03:04:05.678Z","level":"info","msg":"servin listening on http://127.0.0.1:8080"}
 * log.entry("info", "request", { transport: "http", method: "POST", status: 200 });
 */
export function createDaemonLogger(options: DaemonLoggerOptions): DaemonLogger {
  const stream = options.stream ?? process.stderr;
  const decorate = options.decorate ?? terminalDecorations(stream);
  const now = options.now ?? (() => new Date());
  const threshold = RANK[options.level];
  const enabled = (level: LogLevel) => RANK[level] >= threshold;

  const write = (level: LogLevel, msg: string, fields: LogFields | undefined, error: string | undefined) => {
    const time = now().toISOString();
    let line: string;
    if (options.format === "json") {
      const entry: Record<string, unknown> = { time, level, msg };
      if (fields)
        for (const [key, value] of Object.entries(fields)) {
          // The entry's own keys win: a field can never fake the time, level or message.
          if (value === undefined || key in entry) continue;
          entry[key] = typeof value === "string" ? boundLogText(value) : value;
        }
      if (error) entry.error = error;
      line = JSON.stringify(entry);
    } else {
      const tail = fields ? logfmt(fields) : "";
      const stack = error ? `\n  ${error.split("\n").join("\n  ")}` : "";
      line = decorate
        ? `\u001b[2m${time}\u001b[22m \u001b[${COLOUR[level]}m${GLYPH[level]} ${level.padEnd(5)}\u001b[39m ${msg}${tail}${stack}`
        : `${time} ${level.toUpperCase().padEnd(5)} ${msg}${tail}${stack}`;
    }
    stream.write(`${line}\n`);
  };
  const at =
    (level: LogLevel) =>
    (message: unknown, ...args: unknown[]) => {
      if (!enabled(level)) return;
      const { msg, error } = textOf([message, ...args]);
      write(level, msg, undefined, error);
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    entry(level, msg, fields) {
      if (enabled(level)) write(level, boundLogText(msg), fields, undefined);
    },
    enabled,
  };
}

/** True when `logger` takes structured fields (a DaemonLogger); embedders may pass any Logger. */
export function isDaemonLogger(logger: Logger): logger is DaemonLogger {
  return typeof (logger as Partial<DaemonLogger>).entry === "function";
}
