import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { ExecStderrFilter, execStartFailure } from "./_exec-failure.js";

// runc 1.1's own words, as it logs them on stderr when the exec'd process cannot start
const NOT_FOUND =
  'time="2026-11-29T10:00:00Z" level=error msg="exec failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"\n';
const NO_FILE =
  'time="2026-11-29T10:00:00Z" level=error msg="exec failed: unable to start container process: exec: \\"/no/such\\": stat /no/such: no such file or directory"\n';
const DENIED =
  'time="2026-11-29T10:00:00Z" level=error msg="exec failed: unable to start container process: exec: \\"/etc/passwd\\": permission denied"\n';

const filtered = async (chunks: string[]) => {
  const filter = new ExecStderrFilter();
  const out = text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(filter));
  return { text: await out, failure: filter.failure };
};

describe("execStartFailure", () => {
  it("maps runc's start failures to docker's 127 and 126 with runc's reason unquoted", () => {
    expect(execStartFailure(NOT_FOUND)).toEqual({
      exitCode: 127,
      message:
        'exec failed: unable to start container process: exec: "nope": executable file not found in $PATH',
    });
    expect(execStartFailure(NO_FILE)?.exitCode).toBe(127);
    expect(execStartFailure(DENIED)?.exitCode).toBe(126);
  });

  it("leaves anything else alone (a command's own output, other runc errors)", () => {
    expect(execStartFailure("sh: nope: not found\n")).toBeUndefined();
    expect(execStartFailure('time="x" level=error msg="container not running"\n')).toBeUndefined();
  });
});

describe("ExecStderrFilter", () => {
  it("replaces runc's log line, even split over chunks, and records the failure", async () => {
    const r = await filtered([NOT_FOUND.slice(0, 3), NOT_FOUND.slice(3, 40), NOT_FOUND.slice(40)]);
    expect(r.text).toBe(
      'exec failed: unable to start container process: exec: "nope": executable file not found in $PATH\n',
    );
    expect(r.failure?.exitCode).toBe(127);
  });

  it("passes a process's own stderr through untouched, a line that only starts like runc's included", async () => {
    expect(await filtered(["err\n", "more\n"])).toEqual({ text: "err\nmore\n", failure: undefined });
    const logrus = 'time="2026" level=info msg="hello"\nnext\n';
    expect(await filtered([logrus])).toEqual({ text: logrus, failure: undefined });
    expect(await filtered(['time="no newline'])).toEqual({ text: 'time="no newline', failure: undefined });
  });
});
