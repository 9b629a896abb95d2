import { describe, expect, it } from "vitest";
import { credsFromCri, parseChallenges } from "./_auth.js";
import { selectPlatform } from "./_manifest.js";
import { endpointsFor, isLoopbackHost } from "./_registry.js";

describe("registry endpoints", () => {
  it("reaches loopback hosts over plain HTTP without configuration", () => {
    for (const h of ["localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["128.0.0.1", "localhost.example.com", "docker.io"])
      expect(isLoopbackHost(h), h).toBe(false);
    expect(endpointsFor("127.0.0.1:5000", {}).map((e) => e.base.href)).toEqual(["http://127.0.0.1:5000/"]);
  });

  it("lists mirrors in order, then the registry; docker.io is registry-1.docker.io", () => {
    const eps = endpointsFor("docker.io", {
      mirrors: { "docker.io": ["http://10.0.0.1:5000", "mirror.example.com"] },
    });
    expect(eps.map((e) => [e.base.href, e.mirror])).toEqual([
      ["http://10.0.0.1:5000/", true],
      ["https://mirror.example.com/", true],
      ["https://registry-1.docker.io/", false],
    ]);
  });

  it("makes insecure hosts skip TLS verification with an HTTP fallback", () => {
    const [ep] = endpointsFor("reg.lan:5000", { insecure: ["reg.lan:5000"] });
    expect(ep).toMatchObject({ tlsVerify: false, httpFallback: true });
    expect(endpointsFor("reg.lan:5000", {})[0]).toMatchObject({ tlsVerify: true, httpFallback: false });
  });
});

describe("auth", () => {
  it("parses bearer and basic challenges", () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
    ).toEqual([
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/alpine:pull",
        },
      },
    ]);
    expect(parseChallenges('Basic realm="x"')).toEqual([{ scheme: "basic", params: { realm: "x" } }]);
    expect(parseChallenges(undefined)).toEqual([]);
  });

  it("reads CRI credentials in every form", () => {
    expect(credsFromCri({ username: "u", password: "p" })).toEqual({ username: "u", password: "p" });
    expect(credsFromCri({ auth: Buffer.from("u:p:q").toString("base64") })).toEqual({
      username: "u",
      password: "p:q",
    });
    expect(credsFromCri({ registryToken: "t" })).toEqual({ registryToken: "t" });
    expect(credsFromCri({})).toBeUndefined();
  });
});

describe("selectPlatform", () => {
  const d = (architecture: string, variant?: string) => ({
    mediaType: "m",
    digest: `sha256:${architecture}${variant ?? ""}`,
    size: 1,
    platform: { os: "linux", architecture, ...(variant ? { variant } : {}) },
  });
  const index = { mediaType: "i", manifests: [d("amd64"), d("arm64", "v8"), d("arm", "v6"), d("arm", "v7")] };
  it.each([
    [{ os: "linux", architecture: "amd64" }, "sha256:amd64"],
    [{ os: "linux", architecture: "arm64" }, "sha256:arm64v8"],
    [{ os: "linux", architecture: "arm64", variant: "v8" }, "sha256:arm64v8"],
    [{ os: "linux", architecture: "arm", variant: "v7" }, "sha256:armv7"],
  ])("%j → %s", (want, digest) => {
    expect(selectPlatform(index, want, "x").digest).toBe(digest);
  });
  it("names the available platforms when none fits", () => {
    expect(() => selectPlatform(index, { os: "windows", architecture: "amd64" }, "img")).toThrow(
      /no manifest for platform windows\/amd64 \(available: linux\/amd64, linux\/arm64\/v8/,
    );
  });
});
