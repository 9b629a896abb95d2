import { describe, expect, it } from "vitest";
import { createAccessLog, grpcAccessLevel, httpAccessLevel } from "./access-log.js";
import { createDaemonLogger, type LogFormat, type LogLevel, terminalDecorations } from "./log.js";

function capture(level: LogLevel, format: LogFormat, decorate = false) {
  const lines: string[] = [];
  const stream = { write: (chunk: string) => lines.push(chunk) };
  const logger = createDaemonLogger({
    level,
    format,
    stream,
    decorate,
    now: () => new Date("2026-01-02T03:04:05.678Z"),
  });
  return { logger, lines };
}

describe("createDaemonLogger", () => {
  it("writes JSON lines with time (RFC 3339, ms), level, msg and fields", () => {
    const { logger, lines } = capture("debug", "json");
    logger.info("servin listening on http://127.0.0.1:8080");
    logger.entry("warn", "http POST /v1/x 401", { status: 401, transport: "http", uid: undefined });
    logger.error("pull failed", new Error("boom"));
    expect(lines.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
    const [a, b, c] = lines.map((l) => JSON.parse(l));
    expect(a).toEqual({
      time: "2026-01-02T03:04:05.678Z",
      level: "info",
      msg: "servin listening on http://127.0.0.1:8080",
    });
    expect(b).toEqual({
      time: "2026-01-02T03:04:05.678Z",
      level: "warn",
      msg: "http POST /v1/x 401",
      status: 401,
      transport: "http",
    });
    expect(c.msg).toBe("pull failed");
    expect(c.error).toMatch(/^Error: boom\n {4}at /);
  });

  it("never lets a field replace the time, level or message", () => {
    const { logger, lines } = capture("info", "json");
    logger.entry("info", "real", { msg: "forged", level: "error", time: "0" });
    expect(JSON.parse(lines[0]!)).toEqual({ time: "2026-01-02T03:04:05.678Z", level: "info", msg: "real" });
  });

  it("writes plain text with an ISO timestamp, no glyphs and no escapes when not decorated", () => {
    const { logger, lines } = capture("info", "text");
    logger.info("pod \u001b[31mred\u001b[0m ready");
    logger.entry("info", "grpc RunPodSandbox OK", { transport: "grpc", path: "/a b", duration_ms: 1.5 });
    expect(lines[0]).toBe("2026-01-02T03:04:05.678Z INFO  pod \\x1b[31mred\\x1b[0m ready\n");
    expect(lines[1]).toBe(
      '2026-01-02T03:04:05.678Z INFO  grpc RunPodSandbox OK transport=grpc path="/a b" duration_ms=1.5\n',
    );
    expect(lines.join("")).not.toMatch(/[\u001b✔ℹ⚠✖]/);
  });

  it("decorates with a glyph and colours only when asked (a terminal)", () => {
    const { logger, lines } = capture("info", "text", true);
    logger.warn("careful");
    expect(lines[0]).toContain("⚠");
    expect(lines[0]).toContain("\u001b[33m");
    expect(terminalDecorations({ isTTY: true }, {})).toBe(true);
    expect(terminalDecorations({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(terminalDecorations({ isTTY: false }, {})).toBe(false);
    expect(terminalDecorations({}, {})).toBe(false);
  });

  it("drops entries below its level", () => {
    const { logger, lines } = capture("warn", "text");
    logger.debug("d");
    logger.info("i");
    logger.entry("info", "i2");
    logger.warn("w");
    logger.error("e");
    expect(lines.map((l) => l.slice(25))).toEqual(["WARN  w\n", "ERROR e\n"]);
    expect(logger.enabled("info")).toBe(false);
    expect(logger.enabled("error")).toBe(true);
  });

  it("bounds a client-sent string in a field", () => {
    const { logger, lines } = capture("info", "json");
    logger.entry("info", "x", { path: `/${"a".repeat(100_000)}` });
    expect(lines[0]!.length).toBeLessThan(2000);
    expect(JSON.parse(lines[0]!).path).toMatch(/…\(\d+ more\)$/);
  });
});

describe("access log levels", () => {
  it("puts reads at debug, mutations at info, refusals at info and refused credentials and faults at warn", () => {
    const http = (method: string, path: string, status: number, rpc?: string) =>
      httpAccessLevel({ method, path, status, ...(rpc ? { rpc: rpc as never } : {}) });
    expect(http("POST", "/v1/runtime/container/list", 200, "listContainers")).toBe("debug");
    expect(http("POST", "/v1/runtime/container/create", 200, "createContainer")).toBe("info");
    expect(http("GET", "/health", 200)).toBe("debug");
    expect(http("GET", "/metrics", 200)).toBe("debug");
    expect(http("POST", "/v1/runtime/container/status", 404, "containerStatus")).toBe("info");
    expect(http("POST", "/v1/runtime/container/list", 401, "listContainers")).toBe("warn");
    expect(http("GET", "/metrics", 403)).toBe("warn");
    expect(http("POST", "/v1/runtime/container/list", 500, "listContainers")).toBe("warn");
    expect(grpcAccessLevel("listContainers", "OK")).toBe("debug");
    expect(grpcAccessLevel("runPodSandbox", "OK")).toBe("info");
    expect(grpcAccessLevel("execSync", "OK")).toBe("debug"); // exec probes
    expect(grpcAccessLevel("execSync", "DeadlineExceeded")).toBe("info");
    expect(grpcAccessLevel("exec", "OK")).toBe("info");
    expect(grpcAccessLevel("containerStatus", "NotFound")).toBe("info");
    expect(grpcAccessLevel("listContainers", "PermissionDenied")).toBe("warn");
    expect(grpcAccessLevel("version", "Internal")).toBe("warn");
  });

  it("writes one structured line per request, with the peer's uid when known", () => {
    const { logger, lines } = capture("debug", "json");
    const access = createAccessLog(logger, () => 1000);
    access.http({
      method: "POST",
      path: "/v1/runtime/version",
      rpc: "version",
      status: 200,
      durationMs: 1.234,
      peer: { remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 8080 },
    });
    access.grpc({ rpc: "runPodSandbox", code: "OK", durationMs: 812.44 });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: "debug",
      msg: "http POST /v1/runtime/version 200",
      transport: "http",
      method: "POST",
      path: "/v1/runtime/version",
      rpc: "version",
      status: 200,
      duration_ms: 1.2,
      peer: "127.0.0.1:40000",
      uid: 1000,
    });
    expect(JSON.parse(lines[1]!)).toMatchObject({
      level: "info",
      msg: "grpc RunPodSandbox OK",
      transport: "grpc",
      rpc: "RunPodSandbox",
      code: "OK",
      duration_ms: 812.4,
    });
  });

  it("asks any logger that says which levels it writes, and writes a text line to one that takes no fields", () => {
    const lines: string[] = [];
    const push = (m: string) => {
      lines.push(m);
    };
    const plain = { debug: push, info: push, warn: push, error: push };
    const quiet = createAccessLog({ ...plain, enabled: (level) => level !== "info" }, () => undefined);
    quiet.grpc({ rpc: "runPodSandbox", code: "OK", durationMs: 1 });
    expect(lines).toEqual([]);
    createAccessLog(plain, () => undefined).grpc({ rpc: "runPodSandbox", code: "OK", durationMs: 1 });
    expect(lines).toEqual(["grpc RunPodSandbox OK transport=grpc rpc=RunPodSandbox code=OK duration_ms=1"]);
  });
});
