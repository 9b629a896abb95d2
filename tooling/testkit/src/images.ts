/**
 * The test images, built offline from Debian's busybox-static: a three-layer
 * image (base, whiteouts, links), a one-layer base image, a multi-platform
 * index, and one image per hostile-layer case.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { type BuiltImage, type BuiltLayer, hasZstd, OciLayout } from "./layout.js";
import { DEFAULT_MTIME, type TarSpec } from "./tar.js";

export const BUSYBOX_PATH = "/bin/busybox";

export interface TestImages {
  /** The OCI layout directory holding every image below (select with `oci:DIR:TAG`). */
  dir: string;
  /** 3 layers: base (busybox, /etc/passwd with `app` uid 1000), whiteouts (incl. an opaque dir), links (zstd when available). User "app". */
  layers: BuiltImage;
  /** The base layer alone (shared with `layers`). User "1000:1000". */
  base: BuiltImage;
  /** An OCI index: linux/amd64, linux/arm64/v8, linux/arm/v7; each adds /etc/arch naming its platform. */
  multi: BuiltImage;
}

/** Files the base layer holds besides busybox and its applet symlinks. */
export const PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";
export const GROUP = "root:x:0:\napp:x:1000:\n";
export const DEEP_PATH = `etc/deep/${"d".repeat(120)}/file`;
export const GNU_LONG_PATH = `data/${"g".repeat(150)}`;

function applets(): string[] {
  const r = spawnSync(BUSYBOX_PATH, ["--list-full"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${BUSYBOX_PATH} --list-full failed: is busybox-static installed?`);
  return r.stdout.split("\n").filter((p) => p && p !== "bin/busybox");
}

export function baseLayerEntries(): TarSpec[] {
  const dirs: TarSpec[] = [
    { path: "bin/", type: "dir" },
    { path: "dev/", type: "dir" },
    { path: "etc/", type: "dir" },
    { path: "home/", type: "dir" },
    { path: "home/app/", type: "dir", mode: 0o750, uid: 1000, gid: 1000 },
    { path: "opt/", type: "dir" },
    { path: "opt/old/", type: "dir" },
    { path: "root/", type: "dir", mode: 0o700 },
    { path: "sbin/", type: "dir" },
    { path: "tmp/", type: "dir", mode: 0o1777 },
    { path: "usr/", type: "dir" },
    { path: "usr/bin/", type: "dir" },
    { path: "usr/sbin/", type: "dir" },
    { path: "var/", type: "dir" },
    { path: "var/cache/", type: "dir" },
    { path: "var/cache/apt/", type: "dir" },
  ];
  return [
    ...dirs,
    { path: "bin/busybox", type: "file", mode: 0o755, data: readFileSync(BUSYBOX_PATH) },
    ...applets().map((p): TarSpec => ({ path: p, type: "symlink", linkname: "/bin/busybox" })),
    { path: "etc/passwd", type: "file", data: PASSWD },
    { path: "etc/group", type: "file", data: GROUP },
    { path: "etc/motd", type: "file", data: "base motd\n" },
    { path: "etc/remove-me", type: "file", data: "gone soon\n" },
    { path: "opt/old/a", type: "file", data: "a\n" },
    { path: "opt/old/b", type: "file", data: "b\n" },
    { path: "var/cache/apt/pkgcache", type: "file", data: "cache\n" },
    { path: "usr/bin/suid-test", type: "file", mode: 0o4755, data: "#!/bin/sh\necho suid\n" },
    { path: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 },
  ];
}

export function whiteoutLayerEntries(): TarSpec[] {
  return [
    { path: "etc/", type: "dir" },
    { path: "etc/.wh.remove-me", type: "file" },
    { path: "etc/motd", type: "file", data: "replaced motd\n" },
    { path: "opt/", type: "dir" },
    { path: "opt/old/", type: "dir", mode: 0o755 },
    { path: "opt/old/.wh..wh..opq", type: "file" },
    { path: "opt/old/c", type: "file", data: "new c\n" },
    { path: "var/cache/.wh.apt", type: "file" },
    { path: DEEP_PATH, type: "file", data: "deep\n" },
  ];
}

export function linkLayerEntries(): TarSpec[] {
  return [
    { path: "data/", type: "dir", mode: 0o755, uid: 1000, gid: 1000, mtime: DEFAULT_MTIME + 5 },
    {
      path: "data/file.txt",
      type: "file",
      mode: 0o640,
      uid: 1000,
      gid: 1000,
      mtime: DEFAULT_MTIME + 1,
      data: "hello links\n",
    },
    { path: "data/hard", type: "link", linkname: "data/file.txt" },
    { path: "data/rel-link", type: "symlink", linkname: "file.txt" },
    { path: "data/abs-link", type: "symlink", linkname: "/etc/passwd" },
    { path: "data/dir-link", type: "symlink", linkname: "../bin" },
    { path: "data/fifo", type: "fifo", mode: 0o600 },
    { path: GNU_LONG_PATH, type: "file", data: "gnu long\n", gnuLongName: true },
  ];
}

/**
 * Builds the test images into the OCI layout `dir` (created if missing).
 *
 * @example
 * const imgs = await buildTestImages("/tmp/layout");
 * await pushLayout(imgs.dir, imgs.layers.tag, `${registry.host}/test/layers:v1`);
 */
export async function buildTestImages(dir: string): Promise<TestImages> {
  const layout = await new OciLayout(dir).init();
  const base = await layout.layer({ entries: baseLayerEntries() });
  const wh = await layout.layer({ entries: whiteoutLayerEntries() });
  const links = await layout.layer({ entries: linkLayerEntries(), compression: hasZstd() ? "zstd" : "gzip" });
  const layers = await layout.image("layers", [base, wh, links], {
    config: {
      User: "app",
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello"],
      Cmd: ["/bin/sh"],
      WorkingDir: "/home/app",
      Labels: { "org.servin.test": "layers" },
    },
  });
  const baseImage = await layout.image("base", [base], { config: { User: "1000:1000", Cmd: ["/bin/sh"] } });
  const platforms = [
    { os: "linux", architecture: "amd64" },
    { os: "linux", architecture: "arm64", variant: "v8" },
    { os: "linux", architecture: "arm", variant: "v7" },
  ];
  const perPlatform: Array<{ image: BuiltImage; platform: (typeof platforms)[number] }> = [];
  for (const platform of platforms) {
    const name = [platform.os, platform.architecture, platform.variant].filter(Boolean).join("/");
    const marker: BuiltLayer = await layout.layer({
      entries: [
        { path: "etc/", type: "dir" },
        { path: "etc/arch", type: "file", data: `${name}\n` },
      ],
    });
    perPlatform.push({ image: await layout.image(undefined, [base, marker], {}, { platform }), platform });
  }
  const multi = await layout.index("multi", perPlatform);
  return { dir, layers, base: baseImage, multi };
}

export type HostileCase =
  | "dotdot"
  | "absolute"
  | "symlink-escape"
  | "symlink-parent-escape"
  | "hardlink-escape"
  | "hardlink-absolute"
  | "hardlink-missing"
  | "bomb"
  | "diffid-mismatch"
  | "truncated"
  | "bad-checksum"
  | "whiteout-then-symlink";

/** Bytes of zeros in the `bomb` layer (gzip shrinks them ~1000×); tests cap layers below this. */
export const BOMB_BYTES = 64 * 1024 * 1024;

/**
 * One single-layer image per hostile case, tagged with the case name, each
 * valid at the blob level (registries accept it) and hostile inside.
 */
export async function buildHostileImages(dir: string): Promise<Record<HostileCase, BuiltImage>> {
  const layout = await new OciLayout(dir).init();
  const out: Partial<Record<HostileCase, BuiltImage>> = {};
  const simple = async (name: HostileCase, entries: TarSpec[]) => {
    out[name] = await layout.image(name, [await layout.layer({ entries })]);
  };
  await simple("dotdot", [
    { path: "ok", type: "file", data: "ok\n" },
    { path: "../escape", type: "file", data: "escaped\n" },
  ]);
  await simple("absolute", [{ path: "/abs-escape", type: "file", data: "escaped\n" }]);
  await simple("symlink-escape", [
    { path: "evil", type: "symlink", linkname: "/tmp" },
    { path: "evil/servin-pwned", type: "file", data: "escaped\n" },
  ]);
  await simple("symlink-parent-escape", [
    { path: "up", type: "symlink", linkname: "../../../../.." },
    { path: "up/servin-pwned", type: "file", data: "escaped\n" },
  ]);
  await simple("hardlink-escape", [{ path: "hl", type: "link", linkname: "../../../../etc/passwd" }]);
  await simple("hardlink-absolute", [{ path: "hl", type: "link", linkname: "/etc/passwd" }]);
  await simple("hardlink-missing", [{ path: "hl", type: "link", linkname: "etc/passwd" }]);
  await simple("bomb", [{ path: "zeros", type: "file", data: Buffer.alloc(BOMB_BYTES) }]);
  const fine = await layout.layer({ entries: [{ path: "fine", type: "file", data: "fine\n" }] });
  out["diffid-mismatch"] = await layout.image(
    "diffid-mismatch",
    [fine],
    {},
    { diffIds: [`sha256:${"0".repeat(64)}`] },
  );
  // A tar cut in the middle of a file body, then gzipped (a valid gzip stream of a broken tar).
  const { buildTar } = await import("./tar.js");
  const full = buildTar([{ path: "big", type: "file", data: Buffer.alloc(8192, 7) }]);
  const cut = full.subarray(0, 512 + 3000);
  out.truncated = await layout.image("truncated", [await rawLayer(layout, cut)]);
  const bad = Buffer.from(buildTar([{ path: "x", type: "file", data: "x" }]));
  bad[148] = "7".charCodeAt(0); // break the header checksum
  out["bad-checksum"] = await layout.image("bad-checksum", [await rawLayer(layout, bad)]);
  // Not rejected (a later entry may replace a directory), but the whiteout
  // recorded inside the directory must not be created through the symlink.
  await simple("whiteout-then-symlink", [
    { path: "a/", type: "dir" },
    { path: "a/.wh.servin-wh-escape", type: "file" },
    { path: "b/", type: "dir" },
    { path: "b/.wh..wh..opq", type: "file" },
    { path: "a", type: "symlink", linkname: "/tmp" },
    { path: "b", type: "symlink", linkname: "/tmp" },
  ]);
  return out as Record<HostileCase, BuiltImage>;
}

async function rawLayer(layout: OciLayout, tar: Buffer): Promise<BuiltLayer> {
  const { gzipSync } = await import("node:zlib");
  const { createHash } = await import("node:crypto");
  const blob = gzipSync(tar);
  const d = await layout.blob(blob, "application/vnd.oci.image.layer.v1.tar+gzip");
  return { ...d, diffId: `sha256:${createHash("sha256").update(tar).digest("hex")}` };
}
