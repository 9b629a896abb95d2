import { describe, expect, it } from "vitest";
import { detectOciHost, runtimeProblem } from "./host.js";

describe("runtime problems", () => {
  it("names crun's hybrid-cgroup refusal", () => {
    expect(runtimeProblem("crun", "/bin/sh", "hybrid")).toMatch(/cgroups in hybrid mode not supported/);
    expect(runtimeProblem("crun", "/bin/sh", "v2")).toBeUndefined();
    expect(runtimeProblem("runc", "/nonexistent/runc", "v1")).toMatch(/not found/);
  });
  it("reports the host as it is", async () => {
    const host = await detectOciHost();
    expect(["v1", "hybrid", "v2"]).toContain(host.cgroupMode);
    expect(host.ok).toBe(host.problems.length === 0);
  });
});
