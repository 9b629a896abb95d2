import { describe, expect, it } from "vitest";
import { parseCriLogLine } from "./cri-log-line.js";

const T = "2026-11-29T10:00:00.123456789Z";

describe("parseCriLogLine", () => {
  it("splits a full stdout line", () => {
    expect(parseCriLogLine(`${T} stdout F hello world`)).toEqual({
      time: T,
      stream: "stdout",
      partial: false,
      content: "hello world",
    });
  });

  it("marks a P line as partial and reads stderr", () => {
    expect(parseCriLogLine(`${T} stderr P first half`)).toEqual({
      time: T,
      stream: "stderr",
      partial: true,
      content: "first half",
    });
  });

  it("keeps the content byte for byte after the one separating space", () => {
    expect(parseCriLogLine(`${T} stdout F   indented  twice `)?.content).toBe("  indented  twice ");
    expect(parseCriLogLine(`${T} stdout F a stdout F b`)?.content).toBe("a stdout F b");
    expect(parseCriLogLine(`${T} stdout F tab\there`)?.content).toBe("tab\there");
    expect(parseCriLogLine(`${T} stdout F ünïcödé ✓`)?.content).toBe("ünïcödé ✓");
  });

  it("reads an empty line, with or without the space after the tag", () => {
    expect(parseCriLogLine(`${T} stdout F `)).toMatchObject({ partial: false, content: "" });
    expect(parseCriLogLine(`${T} stdout F`)).toMatchObject({ partial: false, content: "" });
    expect(parseCriLogLine(`${T} stdout P `)).toMatchObject({ partial: true, content: "" });
  });

  it("accepts extra `:`-separated tags after P/F, as kubelet does", () => {
    expect(parseCriLogLine(`${T} stdout F:x:y msg`)).toMatchObject({ partial: false, content: "msg" });
    expect(parseCriLogLine(`${T} stderr P:more msg`)).toMatchObject({ partial: true, content: "msg" });
  });

  it("returns the timestamp as written, whatever its precision or offset", () => {
    expect(parseCriLogLine("2026-11-29T10:00:00+01:00 stdout F x")?.time).toBe("2026-11-29T10:00:00+01:00");
  });

  it.each([
    ["an empty line", ""],
    ["no stream", `${T}`],
    ["an unknown stream", `${T} stdin F x`],
    ["a stream in upper case", `${T} STDOUT F x`],
    ["no tag", `${T} stdout`],
    ["an unknown tag", `${T} stdout X x`],
    ["a lower-case tag", `${T} stdout f x`],
    ["content glued to the tag", `${T} stdout Fx`],
    ["a docker json-file line", `{"log":"x\\n","stream":"stdout","time":"${T}"}`],
    ["two spaces after the time", `${T}  stdout F x`],
  ])("rejects %s", (_what, line) => {
    expect(parseCriLogLine(line)).toBeUndefined();
  });
});
