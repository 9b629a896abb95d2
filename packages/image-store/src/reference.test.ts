import { describe, expect, it } from "vitest";
import { familiarString, parseReference } from "./reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference", () => {
  it.each([
    ["alpine", "docker.io/library/alpine:latest"],
    ["alpine:3.19", "docker.io/library/alpine:3.19"],
    ["library/alpine", "docker.io/library/alpine:latest"],
    ["docker.io/alpine", "docker.io/library/alpine:latest"],
    ["index.docker.io/library/alpine:edge", "docker.io/library/alpine:edge"],
    ["bitnami/redis:7", "docker.io/bitnami/redis:7"],
    ["quay.io/coreos/etcd", "quay.io/coreos/etcd:latest"],
    ["localhost/app", "localhost/app:latest"],
    ["localhost:5000/app:v1", "localhost:5000/app:v1"],
    ["127.0.0.1:5000/ns/app", "127.0.0.1:5000/ns/app:latest"],
    ["localhost:5000", "docker.io/library/localhost:5000"],
    ["Registry/app", "Registry/app:latest"],
    ["[::1]:5000/app", "[::1]:5000/app:latest"],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    [`alpine:3@${D}`, `docker.io/library/alpine:3@${D}`],
    ["a/b_c/d__e/f-g---h/i.j", "docker.io/a/b_c/d__e/f-g---h/i.j:latest"],
  ])("%s → %s", (input, want) => {
    expect(parseReference(input).string).toBe(want);
  });

  it("splits the parts", () => {
    const r = parseReference(`myreg:5000/team/app:v2@${D}`);
    expect(r).toMatchObject({
      domain: "myreg:5000",
      path: "team/app",
      name: "myreg:5000/team/app",
      tag: "v2",
      digest: D,
    });
    expect(parseReference(`app@${D}`).tag).toBeUndefined();
  });

  it.each([
    ["", "non-empty"],
    ["Alpine", "lowercase"],
    ["alpine:", "invalid tag"],
    ["alpine:-x", "invalid tag"],
    ["alpine@sha256:abc", "invalid digest"],
    [`alpine@md5:${"a".repeat(32)}`, "not supported"],
    ["a//b", "invalid repository path component"],
    ["/alpine", "invalid"],
    ["-alpine", "invalid repository path component"],
    ["a".repeat(64), "hexadecimal"],
    [" alpine", "whitespace"],
    ["my_reg.io:x/app", "registry host"],
    [`${"a".repeat(250)}/b`, "longer than 255"],
  ])("rejects %j", (input, why) => {
    expect(() => parseReference(input)).toThrowError(expect.objectContaining({ code: "InvalidArgument" }));
    expect(() => parseReference(input)).toThrow(why);
  });

  it("gives docker's familiar form", () => {
    expect(familiarString(parseReference("alpine"))).toBe("alpine:latest");
    expect(familiarString(parseReference("bitnami/redis:7"))).toBe("bitnami/redis:7");
    expect(familiarString(parseReference("localhost:5000/x"))).toBe("localhost:5000/x:latest");
  });
});
