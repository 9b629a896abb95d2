import { describe, expect, it } from "vitest";
import { type Logger, silentLogger } from "./logger.js";

describe("silentLogger", () => {
  it("has every level, drops everything, and cannot be altered by one embedder for all", () => {
    for (const level of ["debug", "info", "warn", "error"] as const)
      expect(silentLogger[level]("message", { any: "arg" })).toBeUndefined();
    expect(Object.isFrozen(silentLogger)).toBe(true);
  });

  it("is the base of a partial logger, and console fits the Logger type as it is", () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m) => void warnings.push(m) };
    logger.warn("w");
    logger.error("e");
    expect(warnings).toEqual(["w"]);
    const fromConsole: Logger = console;
    expect(typeof fromConsole.debug).toBe("function");
  });
});
