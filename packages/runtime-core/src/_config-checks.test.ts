import { describe, expect, it } from "vitest";
import { checkContainerConfig, checkSandboxConfig, hostnameProblem } from "./_config-checks.js";

describe("hostnameProblem", () => {
  it("accepts RFC 1123 host names up to the kernel's 64 bytes", () => {
    for (const ok of ["a", "web-0", "A1.b2.C3", `${"a".repeat(63)}`, `${"a".repeat(31)}.${"b".repeat(32)}`])
      expect(hostnameProblem(ok)).toBeUndefined();
  });
  it("names what is wrong with the others", () => {
    expect(hostnameProblem("a".repeat(65))).toBe("must be at most 64 bytes (the kernel's limit), got 65");
    expect(hostnameProblem("é".repeat(33))).toMatch(/at most 64 bytes.*got 66/);
    for (const bad of ["a_b", "-a", "a-", "a..b", ".a", "a.", "a b", `${"a".repeat(64)}`])
      expect(hostnameProblem(bad), bad).toBeDefined();
  });
});

describe("config checks", () => {
  it("refuses run_as_group without a user, naming the field", () => {
    const group = { runAsGroup: { value: 5 } };
    const container = (securityContext: object) => ({
      metadata: { name: "c" },
      image: { image: "i" },
      linux: { securityContext },
    });
    expect(() => checkContainerConfig(container(group))).toThrow(
      "config.linux.security_context.run_as_group: group 5 is set without run_as_user or run_as_username",
    );
    expect(() => checkContainerConfig(container({ ...group, runAsUser: { value: 0 } }))).not.toThrow();
    expect(() => checkContainerConfig(container({ ...group, runAsUsername: "app" }))).not.toThrow();
    const pod = (securityContext: object) => ({ metadata: { name: "p" }, linux: { securityContext } });
    expect(() => checkSandboxConfig(pod(group))).toThrow(/run_as_group: group 5 is set without run_as_user$/);
    expect(() => checkSandboxConfig(pod({ ...group, runAsUser: { value: 0 } }))).not.toThrow();
  });
  it("lets an absent hostname through (the node's is used)", () => {
    expect(() => checkSandboxConfig({ metadata: { name: "x".repeat(100) } })).not.toThrow();
    expect(() => checkSandboxConfig({ metadata: { name: "p" }, hostname: "x".repeat(65) })).toThrow(
      /^config\.hostname: must be at most 64 bytes/,
    );
  });
});
