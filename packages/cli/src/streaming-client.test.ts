import { describe, expect, it } from "vitest";
import { exitCodeOf } from "./commands/_session.js";
import { parsePortMapping } from "./commands/port-forward.js";
import { parseStatus } from "./streaming-client.js";

describe("parseStatus (the v4+ error channel)", () => {
  it("reads Success, NonZeroExitCode with its ExitCode cause, and other failures", () => {
    expect(parseStatus(JSON.stringify({ metadata: {}, status: "Success" }))).toEqual({ exitCode: 0 });
    const nonZero = {
      status: "Failure",
      reason: "NonZeroExitCode",
      message: "command terminated with non-zero exit code: exit status 3",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    };
    expect(parseStatus(JSON.stringify(nonZero))).toEqual({ exitCode: 3 });
    expect(
      parseStatus(JSON.stringify({ status: "Failure", reason: "InternalError", message: "boom" })),
    ).toEqual({
      error: "boom",
    });
    // a cause that is not an exit code is an error, not exit 0
    const bad = { ...nonZero, details: { causes: [{ reason: "ExitCode", message: "lots" }] } };
    expect(parseStatus(JSON.stringify(bad))).toEqual({ error: nonZero.message });
    expect(parseStatus("plain text before v4\n")).toEqual({ error: "plain text before v4" });
  });

  it("maps outcomes to docker's exit codes", () => {
    expect(exitCodeOf({ exitCode: 42 })).toBe(42);
    expect(exitCodeOf({ error: 'exec: "nope": executable file not found in $PATH' })).toBe(127);
    expect(exitCodeOf({ error: "exec /bin/x: permission denied" })).toBe(126);
    expect(exitCodeOf({ error: "container is stopped" })).toBe(125);
  });
});

describe("parsePortMapping", () => {
  it("takes LOCAL:REMOTE, REMOTE and :REMOTE", () => {
    expect(parsePortMapping("8080:80")).toEqual({ local: 8080, remote: 80 });
    expect(parsePortMapping("80")).toEqual({ local: 80, remote: 80 });
    expect(parsePortMapping(":80")).toEqual({ local: 0, remote: 80 });
  });
  it("names a bad mapping", () => {
    expect(() => parsePortMapping("80:0")).toThrow(`port mapping "80:0": "0" is not a port (1-65535)`);
    expect(() => parsePortMapping("a:80")).toThrow(`port mapping "a:80": "a" is not a port`);
    expect(() => parsePortMapping("1:2:3")).toThrow(`port mapping "1:2:3": expected LOCAL:REMOTE`);
  });
});
