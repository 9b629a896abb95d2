import { describe, expect, it } from "vitest";
import { mergeEnv, resolveArgs, resolveCwd } from "./process.js";

describe("resolveArgs (kubelet's command/args rules)", () => {
  const image = { entrypoint: ["/entry"], cmd: ["--default"] };
  it("uses ENTRYPOINT + CMD when the CRI gives neither", () => {
    expect(resolveArgs({}, image)).toEqual(["/entry", "--default"]);
  });
  it("args replace CMD only", () => {
    expect(resolveArgs({ args: ["-x"] }, image)).toEqual(["/entry", "-x"]);
  });
  it("command replaces ENTRYPOINT and drops CMD", () => {
    expect(resolveArgs({ command: ["/bin/sh"] }, image)).toEqual(["/bin/sh"]);
    expect(resolveArgs({ command: ["/bin/sh"], args: ["-c", "x"] }, image)).toEqual(["/bin/sh", "-c", "x"]);
  });
  it("refuses an empty command with InvalidArgument naming the container", () => {
    expect(() => resolveArgs({}, {}, "web")).toThrow(/container "web": no command/);
  });
});

describe("mergeEnv", () => {
  it("lets CRI envs win over the image's and adds PATH and HOSTNAME", () => {
    expect(mergeEnv(["A=1", "B=2"], [{ key: "A", value: "x" }], "pod")).toEqual([
      "A=x",
      "B=2",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOSTNAME=pod",
    ]);
  });
  it("keeps values containing '='", () => {
    expect(mergeEnv(["PATH=/bin", "Q=a=b"], [])).toEqual(["PATH=/bin", "Q=a=b"]);
  });
});

describe("resolveCwd", () => {
  it("prefers the CRI working_dir, then the image's, then /", () => {
    expect(resolveCwd("/w", { workingDir: "/img" })).toBe("/w");
    expect(resolveCwd(undefined, { workingDir: "/img" })).toBe("/img");
    expect(resolveCwd("", {})).toBe("/");
  });
});
