/**
 * consola's output for pipes, files and NO_COLOR: one plain line per message, no colours, no badges
 * or glyphs (`◐`, ` ERROR `), so `servin … 2>err.log` and scripts read what a person would.
 * Errors and warnings go to stderr as `error: …` / `warning: …`; everything else to stdout as is.
 */
import { formatWithOptions } from "node:util";
import type { ConsolaReporter, LogObject } from "consola";

/** Whether `stream` should get plain lines: not a terminal, or NO_COLOR / TERM=dumb asked for them. */
export function wantsPlainOutput(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY !== true || Boolean(env.NO_COLOR) || env.TERM === "dumb";
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Removes ANSI escape sequences (a library's message may carry colours of its own). */
export const stripAnsi = (text: string): string => text.replace(ANSI, "");

const PREFIX: Partial<Record<string, string>> = { error: "error: ", fatal: "error: ", warn: "warning: " };

/**
 * @example
 * consola.setReporters([plainReporter]);
 * consola.error("image \"x\" not found"); // stderr: error: image "x" not found
 */
export const plainReporter: ConsolaReporter = {
  log(logObj: LogObject) {
    const text = stripAnsi(formatWithOptions({ colors: false }, ...logObj.args));
    const stream = logObj.level < 2 ? process.stderr : process.stdout;
    stream.write(`${PREFIX[logObj.type] ?? ""}${text}\n`);
  },
};
