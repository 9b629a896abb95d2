/**
 * GET /v1/servin/containers/{id}/logs: a container's CRI log file served over HTTP (servin extension,
 * what `kubectl logs` gets from kubelet), with --tail, --since, --timestamps and a --follow that ends
 * when the container has exited and every line was sent, and that follows the new file after a
 * ReopenContainerLog (kubelet's rotation renames the file, conmon opens a new one at the same path).
 */

import { constants } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { CriError, type RuntimeService } from "@servin/cri-types";
import { parseCriLogLine } from "./cri-log-line.js";

/** What a logs request asks for, from its query string. */
export interface ContainerLogQuery {
  follow: boolean;
  /** Only the last N lines of the file (then new ones when following); undefined: all. */
  tail?: number;
  /** Only lines written at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** `text` (default): the content, a partial line joined to its rest; `cri`: the file's lines as written. */
  format: "text" | "cri";
  /** With `text`: each line starts with its RFC 3339 timestamp and a space. */
  timestamps: boolean;
  /**
   * The previous instance's log (`crictl logs --previous`): kubelet names a container's log
   * `NAME/ATTEMPT.log`, so the one before is `NAME/(ATTEMPT-1).log` in the same directory. Never follows.
   */
  previous: boolean;
}

export interface ContainerLogOptions {
  /** Logs streams served at once; one more answers 429 (default 64). */
  maxStreams?: number;
  /** How often a follower looks for new lines, rotation and the container's exit (default 200 ms). */
  pollMs?: number;
}

/** Bytes of lines `tail` keeps at most while it reads to the end: a huge N on a huge file stays bounded. */
const TAIL_BYTES = 64 << 20;
/** A "line" without a newline longer than this is sent as it is (conmon splits long lines far below it). */
const MAX_LINE = 1 << 20;
const CHUNK = 64 << 10;

const BOOLEAN: Record<string, boolean> = { "": true, "1": true, true: true, "0": false, false: false };

function booleanParam(params: URLSearchParams, name: string): boolean {
  const value = params.get(name);
  if (value === null) return false;
  const parsed = BOOLEAN[value.toLowerCase()];
  if (parsed === undefined)
    throw CriError.invalidArgument(`${name}: expected 1, 0, true or false, got "${value}"`);
  return parsed;
}

/**
 * A `since` value as docker and kubectl take it: a duration back from `now` (`10s`, `5m`, `1h30m`,
 * `250ms`) or an RFC 3339 time; undefined when it is neither.
 *
 * @example
 * parseSince("5m", Date.parse("2026-01-01T00:10:00Z")); // Date.parse("2026-01-01T00:05:00Z")
 * parseSince("2026-01-01T00:00:00Z", Date.now()); // 1767225600000
 */
export function parseSince(value: string, now: number): number | undefined {
  const duration = /^(?:\d+(?:\.\d+)?(?:h|m|s|ms))+$/.test(value);
  if (duration) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g))
      ms += Number(n) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[unit as "h" | "m" | "s" | "ms"];
    return now - ms;
  }
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$/i.test(value)) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * Reads a logs request's query: `follow`, `tail` (a whole number, or -1 for all), `since`,
 * `timestamps`, `format` (text|cri). Throws InvalidArgument naming the bad parameter.
 *
 * @example
 * parseLogQuery(new URLSearchParams("follow=1&tail=10"), Date.now()); // { follow: true, tail: 10, … }
 */
export function parseLogQuery(params: URLSearchParams, now: number): ContainerLogQuery {
  for (const name of params.keys())
    if (!["follow", "tail", "since", "timestamps", "format", "previous"].includes(name))
      throw CriError.invalidArgument(
        `${name}: unknown parameter (expected follow, tail, since, timestamps, format or previous)`,
      );
  const query: ContainerLogQuery = {
    follow: booleanParam(params, "follow"),
    timestamps: booleanParam(params, "timestamps"),
    format: "text",
    previous: booleanParam(params, "previous"),
  };
  // the previous instance has exited: its log does not grow
  if (query.previous) query.follow = false;
  const tail = params.get("tail");
  if (tail !== null && tail !== "-1" && tail.toLowerCase() !== "all") {
    if (!/^\d{1,9}$/.test(tail))
      throw CriError.invalidArgument(`tail: expected a whole number of lines (or -1 for all), got "${tail}"`);
    query.tail = Number(tail);
  }
  const since = params.get("since");
  if (since !== null) {
    const sinceMs = parseSince(since, now);
    if (sinceMs === undefined)
      throw CriError.invalidArgument(
        `since: expected a duration (10s, 5m, 2h) or an RFC 3339 time, got "${since}"`,
      );
    query.sinceMs = sinceMs;
  }
  const format = params.get("format");
  if (format !== null) {
    if (format !== "text" && format !== "cri")
      throw CriError.invalidArgument(`format: expected text or cri, got "${format}"`);
    query.format = format;
  }
  return query;
}

/** The lines of one log file as they are appended, across a rotation (a new file at the same path). */
class LogFileReader {
  private file: FileHandle | undefined;
  private ino = -1;
  private position = 0;
  private rest = "";
  private readonly buffer = Buffer.allocUnsafe(CHUNK);
  private readonly decoder = new TextDecoder();

  constructor(private readonly path: string) {}

  /** Every complete line appended since the last call (opening the file once it exists). */
  async read(): Promise<string[]> {
    const lines: string[] = [];
    if (!this.file && !(await this.openCurrent())) return lines;
    await this.drain(lines);
    // Rotation: the path now names another file (or none yet); the old one was read to its end above.
    const now = await stat(this.path).catch(() => undefined);
    if (now && now.ino !== this.ino) {
      await this.close();
      this.flushRest(lines);
      if (await this.openCurrent()) await this.drain(lines);
    } else if (now && now.size < this.position) {
      // Truncated in place (copytruncate): start again at its top.
      this.position = 0;
      this.rest = "";
      await this.drain(lines);
    }
    return lines;
  }

  /** The last line even without its newline (the container has gone: no more is coming). */
  finish(): string[] {
    const lines: string[] = [];
    this.flushRest(lines);
    return lines;
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => {});
  }

  private async openCurrent(): Promise<boolean> {
    // O_NOFOLLOW: the log file is the one conmon made, never a link someone put in its place.
    const file = await open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined; // not made yet, or between a rotation's two steps
        throw err.code === "ELOOP"
          ? CriError.failedPrecondition(`log file "${this.path}" is a symbolic link: not followed`)
          : err;
      },
    );
    if (!file) return false;
    const info = await file.stat();
    if (!info.isFile()) {
      await file.close();
      throw CriError.failedPrecondition(`log file "${this.path}" is not a regular file`);
    }
    this.file = file;
    this.ino = info.ino;
    this.position = 0;
    this.rest = "";
    return true;
  }

  private async drain(lines: string[]): Promise<void> {
    for (;;) {
      const { bytesRead } = await this.file!.read(this.buffer, 0, CHUNK, this.position);
      if (bytesRead === 0) return;
      this.position += bytesRead;
      const parts = (
        this.rest + this.decoder.decode(this.buffer.subarray(0, bytesRead), { stream: true })
      ).split("\n");
      this.rest = parts.pop()!;
      lines.push(...parts);
      if (this.rest.length > MAX_LINE) this.flushRest(lines);
      if (lines.length > 4096) return;
    }
  }

  private flushRest(lines: string[]): void {
    if (this.rest !== "") lines.push(this.rest);
    this.rest = "";
  }
}

/** Filters and formats raw CRI log lines for one request; keeps the `P` parts of a line in `text` form. */
function formatter(query: ContainerLogQuery): (line: string) => string | undefined {
  let pending = "";
  return (line) => {
    const entry = parseCriLogLine(line);
    if (!entry) return undefined;
    if (query.sinceMs !== undefined && Date.parse(entry.time) < query.sinceMs) return undefined;
    if (query.format === "cri") return `${line}\n`;
    const prefix = query.timestamps && pending === "" ? `${entry.time} ` : "";
    if (entry.partial) {
      pending += prefix + entry.content;
      return undefined;
    }
    const out = `${pending}${prefix}${entry.content}\n`;
    pending = "";
    return out;
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

/** `…/web/2.log` → `…/web/1.log`; NotFound when the log is not kubelet's `ATTEMPT.log` or attempt is 0. */
function previousLogPath(id: string, logPath: string): string {
  const slash = logPath.lastIndexOf("/");
  const attempt = /^(\d{1,9})\.log$/.exec(logPath.slice(slash + 1))?.[1];
  if (attempt === undefined || Number(attempt) === 0)
    throw CriError.notFound(
      `container "${id}" has no previous instance (its log ${logPath} is not an ATTEMPT.log after attempt 0)`,
    );
  return `${logPath.slice(0, slash + 1)}${Number(attempt) - 1}.log`;
}

/**
 * Makes the logs answers for containers of `runtime`: one Response per request, streamed as the file
 * grows (chunked), at most `maxStreams` at once.
 *
 * @example
 * const logs = containerLogsHandler(runtime);
 * app.get("/v1/servin/containers/:id/logs", (c) => logs(c.req.param("id"), new URL(c.req.url).searchParams, c.req.raw.signal));
 */
export function containerLogsHandler(
  runtime: Pick<RuntimeService, "containerStatus">,
  options: ContainerLogOptions = {},
): (id: string, params: URLSearchParams, signal: AbortSignal) => Promise<Response> {
  const maxStreams = options.maxStreams ?? 64;
  const pollMs = options.pollMs ?? 200;
  let streams = 0;

  return async (id, params, signal) => {
    const query = parseLogQuery(params, Date.now());
    const { status } = await runtime.containerStatus({ containerId: id }, { signal });
    if (!status.logPath)
      throw CriError.failedPrecondition(
        `container "${id}" has no log file (its pod has no log_directory or the container no log_path)`,
      );
    if (streams >= maxStreams)
      throw new CriError(
        "ResourceExhausted",
        `too many logs streams at once (${maxStreams}): try again later`,
      );
    const logPath = query.previous ? previousLogPath(id, status.logPath) : status.logPath;
    streams++;
    const containerId = status.id;
    const reader = new LogFileReader(logPath);
    const format = formatter(query);
    const encoder = new TextEncoder();
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      streams--;
      signal.removeEventListener("abort", onAbort);
      stop.abort();
      await reader.close();
    };
    const render = (lines: string[]) => {
      let out = "";
      for (const line of lines) out += format(line) ?? "";
      return out;
    };

    // The start: the whole file, or its last `tail` lines (read to the end, only those kept).
    let first: string[];
    try {
      first = [];
      let bytes = 0;
      for (let batch = await reader.read(); batch.length > 0; batch = await reader.read()) {
        for (const line of batch) {
          if (query.sinceMs !== undefined || query.tail !== undefined) {
            const entry = parseCriLogLine(line);
            if (entry && query.sinceMs !== undefined && Date.parse(entry.time) < query.sinceMs) continue;
          }
          first.push(line);
          bytes += line.length;
          if (query.tail !== undefined)
            while (first.length > query.tail || (bytes > TAIL_BYTES && first.length > 1))
              bytes -= first.shift()!.length;
        }
      }
      if (!query.follow) first.push(...reader.finish());
    } catch (err) {
      await release();
      throw err;
    }

    let sentFirst = false;
    let ended = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          if (!sentFirst) {
            sentFirst = true;
            const text = render(first);
            first = [];
            if (text) return controller.enqueue(encoder.encode(text));
          }
          if (!query.follow || ended) {
            await release();
            return controller.close();
          }
          for (;;) {
            const lines = await reader.read();
            if (lines.length > 0) {
              const text = render(lines);
              if (text) return controller.enqueue(encoder.encode(text));
              continue;
            }
            if (stop.signal.aborted) {
              await release();
              return controller.close();
            }
            // Exited (or removed): whatever conmon wrote before the exit is in the file now; send the rest.
            const state = await runtime
              .containerStatus({ containerId }, { signal: stop.signal })
              .then((r) => r.status.state)
              .catch(() => "gone");
            if (state === "CONTAINER_EXITED" || state === "gone") {
              ended = true;
              const text = render([...(await reader.read()), ...reader.finish()]);
              if (text) return controller.enqueue(encoder.encode(text));
              await release();
              return controller.close();
            }
            await sleep(pollMs, stop.signal);
          }
        } catch (err) {
          await release();
          controller.error(err);
        }
      },
      async cancel() {
        await release();
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
    });
  };
}
