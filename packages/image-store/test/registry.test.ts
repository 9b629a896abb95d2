import { writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pushLayout, registryToolsAvailable } from "@servin/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDiskImageBackend,
  createImageService,
  type DiskImageBackendOptions,
  type ServinImageService,
} from "../src/index.js";
import { blobFetches, type Fixture, listDir, setupRegistry } from "./_fixture.js";

const available = registryToolsAvailable();

describe.skipIf(!available)("pulls from a real registry", () => {
  let fx: Fixture;
  const services: ServinImageService[] = [];
  const open = async (extra: Partial<DiskImageBackendOptions> = {}) => {
    const s = await createImageService({
      backend: await createDiskImageBackend({ root: await fx.newRoot(), ...extra }),
    });
    services.push(s);
    return s;
  };
  beforeAll(async () => {
    fx = await setupRegistry();
  });
  afterAll(async () => {
    for (const s of services) await s.close();
    await fx?.cleanup();
  });

  it("pulls by tag: ID, tags, digests, size, user, config", async () => {
    const s = await open();
    const ref = `${fx.reg.host}/test/layers:v1`;
    const events: string[] = [];
    const { imageRef } = await s.pullImage(
      { image: { image: ref } },
      { onProgress: (e) => events.push(`${e.kind}:${e.status}`) },
    );
    expect(imageRef).toBe(fx.imgs.layers.configDigest);
    const img = (await s.imageStatus({ image: { image: ref } })).image!;
    expect(img.repoTags).toEqual([ref]);
    expect(img.repoDigests).toEqual([`${fx.reg.host}/test/layers@${fx.imgs.layers.manifestDigest}`]);
    expect(img.size).toBe(fx.imgs.layers.layers.reduce((n, l) => n + l.size, 0));
    expect(img.username).toBe("app");
    expect(img.uid).toBeUndefined();
    expect(events).toContain("layer:downloading");
    expect(events).toContain("layer:unpacked");
    expect(events.filter((e) => e === "layer:unpacked")).toHaveLength(3);
    const verbose = await s.imageStatus({ image: { image: ref }, verbose: true });
    const info = JSON.parse(verbose.info!.info!);
    expect(info.imageSpec.config.User).toBe("app");
    expect(info.imageSpec.rootfs.diff_ids).toEqual(fx.imgs.layers.layers.map((l) => l.diffId));
    const rt = await s.resolveImage(ref);
    expect(rt.layers).toHaveLength(3);
    expect(rt.config).toMatchObject({ user: "app", workingDir: "/home/app", cmd: ["/bin/sh"] });
    expect(rt.ref).toBe(img.repoDigests[0]);
    // Lookups by every form containerd accepts.
    for (const r of [imageRef, imageRef.slice(7, 20), img.repoDigests[0]!])
      expect((await s.resolveImage(r)).id).toBe(imageRef);
    // A second pull finds everything present.
    const again: string[] = [];
    await s.pullImage({ image: { image: ref } }, { onProgress: (e) => again.push(`${e.kind}:${e.status}`) });
    expect(again.filter((e) => e === "layer:exists")).toHaveLength(3);
  });

  it("pulls by digest and reports the numeric uid", async () => {
    const s = await open();
    const ref = `${fx.reg.host}/test/base@${fx.imgs.base.manifestDigest}`;
    const { imageRef } = await s.pullImage({ image: { image: ref } });
    expect(imageRef).toBe(fx.imgs.base.configDigest);
    const img = (await s.imageStatus({ image: { image: ref } })).image!;
    expect(img.repoTags).toEqual([]);
    expect(img.repoDigests).toEqual([ref]);
    expect(img.uid).toEqual({ value: 1000 });
  });

  it("rejects a digest the registry content does not match, and a missing image", async () => {
    const s = await open();
    await expect(
      s.pullImage({ image: { image: `${fx.reg.host}/test/base@sha256:${"1".repeat(64)}` } }),
    ).rejects.toMatchObject({
      code: "NotFound",
    });
    await expect(s.pullImage({ image: { image: `${fx.reg.host}/test/nope:v1` } })).rejects.toMatchObject({
      code: "NotFound",
    });
    await expect(s.pullImage({ image: { image: "127.0.0.1:1/x:y" } })).rejects.toMatchObject({
      code: "Unavailable",
    });
  });

  it("chooses the host platform from an index, or the configured one", async () => {
    const s = await open();
    const ref = `${fx.reg.host}/test/multi:v1`;
    const { imageRef } = await s.pullImage({ image: { image: ref } });
    expect(imageRef).toBe(fx.imgs.multi.platforms!["linux/amd64"]!.configDigest);
    const img = (await s.imageStatus({ image: { image: ref } })).image!;
    expect(img.repoDigests).toEqual([`${fx.reg.host}/test/multi@${fx.imgs.multi.digest}`]);
    const arm = await open({ platform: { os: "linux", architecture: "arm64" } });
    expect((await arm.pullImage({ image: { image: ref } })).imageRef).toBe(
      fx.imgs.multi.platforms!["linux/arm64/v8"]!.configDigest,
    );
    const armv7 = await open({ platform: { os: "linux", architecture: "arm", variant: "v7" } });
    expect((await armv7.pullImage({ image: { image: ref } })).imageRef).toBe(
      fx.imgs.multi.platforms!["linux/arm/v7"]!.configDigest,
    );
    const none = await open({ platform: { os: "linux", architecture: "s390x" } });
    await expect(none.pullImage({ image: { image: ref } })).rejects.toThrow(
      /no manifest for platform linux\/s390x/,
    );
  });

  it("downloads each blob once for concurrent pulls sharing layers", async () => {
    const s = await open();
    fx.reg.requestLog.length = 0;
    const refs = [
      `${fx.reg.host}/test/layers:v1`,
      `${fx.reg.host}/test/layers:v1`,
      `${fx.reg.host}/test/base:v1`,
      `${fx.reg.host}/test/layers@${fx.imgs.layers.manifestDigest}`,
    ];
    const ids = await Promise.all(refs.map((r) => s.pullImage({ image: { image: r } })));
    expect(ids[0]!.imageRef).toBe(ids[1]!.imageRef);
    const counts = blobFetches(fx.reg);
    // The base layer is in both repos: one fetch in all.
    const baseLayer = fx.imgs.base.layers[0]!.digest;
    expect(counts.get(baseLayer)).toBe(1);
    for (const [digest, n] of counts) expect(n, digest).toBe(1);
    expect((await s.listImages({})).images).toHaveLength(2);
  });

  it("removes tags, then images, and garbage-collects blobs and snapshots", async () => {
    let inUse = false;
    const root = await fx.newRoot();
    const s = await createImageService({
      backend: await createDiskImageBackend({ root }),
      isImageInUse: () => inUse,
    });
    services.push(s);
    const layers = `${fx.reg.host}/test/layers:v1`;
    const base = `${fx.reg.host}/test/base:v1`;
    await s.pullImage({ image: { image: layers } });
    await s.pullImage({ image: { image: base } });
    // Pull the same image under a second tag (by digest, then tag it through another repo path is not
    // possible without a push), so use the digest reference as the second name.
    expect(await listDir(join(root, "images/snapshots"))).toHaveLength(6);
    const fsBefore = (await s.imageFsInfo({})).imageFilesystems[0]!;
    expect(fsBefore.usedBytes!.value).toBeGreaterThan(1_000_000);
    expect(fsBefore.inodesUsed!.value).toBeGreaterThan(300);
    expect(fsBefore.fsId!.mountpoint).toBe(join(root, "images"));

    inUse = true;
    await expect(s.removeImage({ image: { image: layers } })).rejects.toMatchObject({
      code: "FailedPrecondition",
    });
    inUse = false;
    await s.removeImage({ image: { image: layers } });
    expect((await s.imageStatus({ image: { image: layers } })).image).toBeUndefined();
    // The base layer stays (base:v1 uses it); the other two layers' snapshots and blobs are gone.
    expect(await listDir(join(root, "images/snapshots"))).toHaveLength(2);
    const blobs = await listDir(join(root, "images/blobs/sha256"));
    expect(blobs).toContain(fx.imgs.base.layers[0]!.digest.slice(7));
    expect(blobs).not.toContain(fx.imgs.layers.layers[1]!.digest.slice(7));
    expect(blobs).not.toContain(fx.imgs.layers.configDigest.slice(7));
    const fsAfter = (await s.imageFsInfo({})).imageFilesystems[0]!;
    expect(fsAfter.usedBytes!.value).toBeLessThan(fsBefore.usedBytes!.value);

    // Removing by ID prefix; removing again is a success.
    await s.removeImage({ image: { image: fx.imgs.base.configDigest.slice(7, 19) } });
    await s.removeImage({ image: { image: base } });
    expect((await s.listImages({})).images).toEqual([]);
    expect(await listDir(join(root, "images/blobs/sha256"))).toEqual([]);
    expect(await listDir(join(root, "images/snapshots"))).toEqual([]);
  });

  it("keeps an image while another tag names it, and survives a restart", async () => {
    const root = await fx.newRoot();
    const s = await createImageService({ backend: await createDiskImageBackend({ root }) });
    const byTag = `${fx.reg.host}/test/base:v1`;
    const byDigest = `${fx.reg.host}/test/base@${fx.imgs.base.manifestDigest}`;
    await s.pullImage({ image: { image: byTag } });
    await s.pullImage({ image: { image: byDigest } });
    await s.close();
    const s2 = await createImageService({ backend: await createDiskImageBackend({ root }) });
    services.push(s2);
    const img = (await s2.imageStatus({ image: { image: byTag } })).image!;
    expect(img.repoDigests).toEqual([byDigest]);
    await s2.removeImage({ image: { image: byDigest } });
    expect((await s2.imageStatus({ image: { image: byTag } })).image?.repoDigests).toEqual([]);
    expect((await s2.resolveImage(byTag)).layers).toHaveLength(1);

    // Two tags on one image: removing one keeps the image under the other.
    await pushLayout(fx.imgs.dir, "base", `${fx.reg.directHost}/test/base:v2`);
    const v2 = `${fx.reg.host}/test/base:v2`;
    await s2.pullImage({ image: { image: v2 } });
    expect([...((await s2.imageStatus({ image: { image: v2 } })).image?.repoTags ?? [])].sort()).toEqual(
      [byTag, v2].sort(),
    );
    await s2.removeImage({ image: { image: byTag } });
    const left = (await s2.imageStatus({ image: { image: v2 } })).image!;
    expect(left.repoTags).toEqual([v2]);
    expect((await s2.imageStatus({ image: { image: byTag } })).image).toBeUndefined();
    await s2.removeImage({ image: { image: v2 } });
    expect((await s2.listImages({})).images).toEqual([]);
  });

  it("pulls through a mirror, falling back past dead mirrors to the registry", async () => {
    const deadPort = 1; // nothing listens on port 1
    const s = await open({
      registries: {
        mirrors: { "registry.servin.invalid": [`http://127.0.0.1:${deadPort}`, fx.reg.url] },
        retries: 0,
      },
    });
    fx.reg.requestLog.length = 0;
    const { imageRef } = await s.pullImage({ image: { image: "registry.servin.invalid/test/base:v1" } });
    expect(imageRef).toBe(fx.imgs.base.configDigest);
    expect(fx.reg.requestLog.some((r) => r.path === "/v2/test/base/manifests/v1")).toBe(true);
    const img = (await s.imageStatus({ image: { image: "registry.servin.invalid/test/base:v1" } })).image!;
    expect(img.repoTags).toEqual(["registry.servin.invalid/test/base:v1"]);
    // A mirror that lacks the image falls back to the upstream (here: the same registry as upstream).
    const s2 = await open({
      registries: { mirrors: { [fx.reg.host]: [`http://${fx.reg.directHost}/nothing-here`] } },
    });
    expect((await s2.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } })).imageRef).toBe(
      fx.imgs.base.configDigest,
    );
    // Unreachable upstream and mirrors: Unavailable, naming both.
    const s3 = await open({
      registries: {
        mirrors: { "registry.servin.invalid": [`http://127.0.0.1:${deadPort}`] },
        retries: 0,
        timeoutMs: 2000,
      },
    });
    await expect(s3.pullImage({ image: { image: "registry.servin.invalid/test/nope:v1" } })).rejects.toThrow(
      /mirrors:/,
    );
  });

  it("retries transient registry errors", async () => {
    const s = await open();
    let failures = 2;
    fx.reg.setFault((r) => (r.path.includes("/blobs/") && failures-- > 0 ? { status: 503 } : undefined));
    try {
      expect((await s.pullImage({ image: { image: `${fx.reg.host}/test/base:v1` } })).imageRef).toBe(
        fx.imgs.base.configDigest,
      );
    } finally {
      fx.reg.setFault(undefined);
    }
  });
});

describe.skipIf(!available)("registry authentication", () => {
  const user = { username: "servin", password: "s3cret" };
  let fx: Fixture;
  beforeAll(async () => {
    fx = await setupRegistry({ registry: { htpasswd: user } });
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it("uses basic auth from the CRI auth field, and refuses without it", async () => {
    const s = await createImageService({
      backend: await createDiskImageBackend({ root: await fx.newRoot() }),
    });
    const ref = `${fx.reg.host}/test/base:v1`;
    await expect(s.pullImage({ image: { image: ref } })).rejects.toMatchObject({ code: "Unauthenticated" });
    await expect(
      s.pullImage({ image: { image: ref }, auth: { username: "servin", password: "wrong" } }),
    ).rejects.toMatchObject({ code: "Unauthenticated" });
    expect((await s.pullImage({ image: { image: ref }, auth: user })).imageRef).toBe(
      fx.imgs.base.configDigest,
    );
    const s2 = await createImageService({
      backend: await createDiskImageBackend({ root: await fx.newRoot() }),
    });
    const auth = Buffer.from("servin:s3cret").toString("base64");
    expect((await s2.pullImage({ image: { image: ref }, auth: { auth } })).imageRef).toBe(
      fx.imgs.base.configDigest,
    );
    await s.close();
    await s2.close();
  });

  it("reads credentials from a docker config.json", async () => {
    const cfg = join(fx.tmp, "docker-config.json");
    const auth = Buffer.from("servin:s3cret").toString("base64");
    await writeFile(cfg, JSON.stringify({ auths: { [`http://${fx.reg.host}`]: { auth } } }));
    const s = await createImageService({
      backend: await createDiskImageBackend({
        root: await fx.newRoot(),
        registries: { authConfigPath: cfg },
      }),
    });
    expect((await s.pullImage({ image: { image: `${fx.reg.host}/test/layers:v1` } })).imageRef).toBe(
      fx.imgs.layers.configDigest,
    );
    await s.close();
  });

  it("follows a bearer challenge to a token server and caches the token per scope", async () => {
    const tokens = new Set<string>();
    const scopes: string[] = [];
    let tokenPort = 0;
    // A registry front that demands bearer tokens, and the token server that issues them.
    const tokenServer = http.createServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      const basic = Buffer.from(
        String(req.headers.authorization ?? "").replace(/^Basic /, ""),
        "base64",
      ).toString();
      if (basic !== "alice:wonder") {
        res.writeHead(401).end();
        return;
      }
      scopes.push(url.searchParams.get("scope") ?? "");
      const token = `tok-${tokens.size}-${Math.random()}`;
      tokens.add(token);
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ token, expires_in: 300 }));
    });
    const front = http.createServer((req, res) => {
      const bearer = String(req.headers.authorization ?? "").replace(/^Bearer /, "");
      if (!tokens.has(bearer)) {
        const repo = /^\/v2\/(.+?)\/(manifests|blobs)\//.exec(req.url ?? "")?.[1] ?? "";
        res
          .writeHead(401, {
            "www-authenticate": `Bearer realm="http://127.0.0.1:${tokenPort}/token",service="servin-test",scope="repository:${repo}:pull"`,
          })
          .end();
        return;
      }
      // Authorised: forward to the real registry with its own basic credentials.
      const up = http.request(
        {
          host: "127.0.0.1",
          port: Number(fx.reg.directHost.split(":")[1]),
          path: req.url,
          method: req.method,
          headers: {
            ...req.headers,
            authorization: `Basic ${Buffer.from("servin:s3cret").toString("base64")}`,
          },
        },
        (ures) => {
          res.writeHead(ures.statusCode ?? 502, ures.headers);
          ures.pipe(res);
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((r) => tokenServer.listen(0, "127.0.0.1", r));
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    tokenPort = (tokenServer.address() as AddressInfo).port;
    const host = `127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      const s = await createImageService({
        backend: await createDiskImageBackend({ root: await fx.newRoot() }),
      });
      const alice = { username: "alice", password: "wonder" };
      await expect(s.pullImage({ image: { image: `${host}/test/base:v1` } })).rejects.toMatchObject({
        code: "Unauthenticated",
      });
      expect((await s.pullImage({ image: { image: `${host}/test/base:v1` }, auth: alice })).imageRef).toBe(
        fx.imgs.base.configDigest,
      );
      expect(
        (
          await s.pullImage({
            image: { image: `${host}/test/base@${fx.imgs.base.manifestDigest}` },
            auth: alice,
          })
        ).imageRef,
      ).toBe(fx.imgs.base.configDigest);
      expect(scopes).toEqual(["repository:test/base:pull"]);
      await s.pullImage({ image: { image: `${host}/test/layers:v1` }, auth: alice });
      expect(scopes).toEqual(["repository:test/base:pull", "repository:test/layers:pull"]);
      await s.close();
    } finally {
      front.closeAllConnections();
      tokenServer.closeAllConnections();
      await new Promise((r) => front.close(r));
      await new Promise((r) => tokenServer.close(r));
    }
  });
});
