/** Upstream fallback switch: a real registry as the mirror, a loopback "upstream" that counts who calls it. */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { registryToolsAvailable } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskImageBackend, createImageService } from "../src/index.js";
import type { RegistryConfig } from "../src/registry-config.js";
import { type Fixture, setupRegistry } from "./_fixture.js";

/** An HTTP server on 127.0.0.7 that answers 404 to everything and counts the requests it got. */
async function countingUpstream(): Promise<{ host: string; requests: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    n++;
    req.resume();
    res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"NAME_UNKNOWN"}]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.7", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.7:${port}`,
    requests: () => n,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe.skipIf(!registryToolsAvailable())("upstream fallback when mirrors fail", () => {
  let fx: Fixture;
  let upstream: Awaited<ReturnType<typeof countingUpstream>>;
  beforeAll(async () => {
    fx = await setupRegistry();
    upstream = await countingUpstream();
  });
  afterAll(async () => {
    await upstream?.close();
    await fx?.cleanup();
  });

  const open = async (registries: RegistryConfig) =>
    createImageService({ backend: await createDiskImageBackend({ root: await fx.newRoot(), registries }) });
  const mirrored = (extra: RegistryConfig = {}): RegistryConfig => ({
    mirrors: { [upstream.host]: [`http://${fx.reg.host}`] },
    retries: 0,
    ...extra,
  });

  it("with fallback off, pulls from the mirror and never contacts the registry", async () => {
    const s = await open(mirrored({ upstreamFallback: false }));
    const before = upstream.requests();
    const { imageRef } = await s.pullImage({ image: { image: `${upstream.host}/test/base:v1` } });
    expect(imageRef).toBe(fx.imgs.base.configDigest);
    expect(upstream.requests()).toBe(before);
    await s.close();
  });

  it("with fallback off, a name the mirror lacks is NotFound naming the mirror; the registry is not asked", async () => {
    for (const registries of [
      mirrored({ upstreamFallback: false }),
      mirrored({ upstreamFallbackFor: { [upstream.host]: false } }),
    ]) {
      const s = await open(registries);
      const before = upstream.requests();
      const err = await s.pullImage({ image: { image: `${upstream.host}/test/missing:v1` } }).catch((e) => e);
      expect(err).toMatchObject({ code: "NotFound" });
      expect(err.message).toContain(`not found in mirror ${fx.reg.host}`);
      expect(err.message).toContain(`upstream fallback is off for ${upstream.host}`);
      expect(upstream.requests()).toBe(before);
      await s.close();
    }
  });

  it("with fallback off, a mirror that is down is Unavailable naming the mirror", async () => {
    const s = await open({
      mirrors: { [upstream.host]: ["http://127.0.0.1:1"] },
      retries: 0,
      upstreamFallback: false,
    });
    const before = upstream.requests();
    const err = await s.pullImage({ image: { image: `${upstream.host}/test/base:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "Unavailable" });
    expect(err.message).toMatch(/registry 127\.0\.0\.1:1 unreachable/);
    expect(err.message).toContain("upstream fallback is off");
    expect(upstream.requests()).toBe(before);
    await s.close();
  });

  it("by default falls back to the registry, as containerd does", async () => {
    const s = await open(mirrored());
    const before = upstream.requests();
    const err = await s.pullImage({ image: { image: `${upstream.host}/test/missing:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "NotFound" });
    expect(upstream.requests()).toBeGreaterThan(before);
    // A per-host true wins over a global false.
    const s2 = await open(
      mirrored({ upstreamFallback: false, upstreamFallbackFor: { [upstream.host]: true } }),
    );
    const before2 = upstream.requests();
    await s2.pullImage({ image: { image: `${upstream.host}/test/missing:v1` } }).catch(() => {});
    expect(upstream.requests()).toBeGreaterThan(before2);
    await s.close();
    await s2.close();
  });

  it("when the mirror lacks the name and the registry is unreachable, says the mirror did not have it", async () => {
    const dead = "127.0.0.8:1"; // nothing listens there
    const s = await open({ mirrors: { [dead]: [`http://${fx.reg.host}`] }, retries: 0 });
    const err = await s.pullImage({ image: { image: `${dead}/test/missing:v1` } }).catch((e) => e);
    expect(err).toMatchObject({ code: "NotFound" });
    expect(err.message).toMatch(
      new RegExp(`^manifest .*test/missing:v1: not found in mirror ${fx.reg.host}`),
    );
    expect(err.message).toContain(`registry ${dead} unreachable`);
    await s.close();
  });
});
