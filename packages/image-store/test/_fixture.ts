/** Shared set-up for the registry tests: test images built offline, a local registry with them pushed. */
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuiltImage } from "@servin/testkit";
import {
  buildHostileImages,
  buildTestImages,
  type HostileCase,
  pushLayout,
  type StartRegistryOptions,
  startRegistry,
  type TestImages,
  type TestRegistry,
} from "@servin/testkit";

export interface Fixture {
  tmp: string;
  reg: TestRegistry;
  imgs: TestImages;
  hostile?: Record<HostileCase, BuiltImage>;
  /** A fresh, empty root dir for a disk image service. */
  newRoot(): Promise<string>;
  cleanup(): Promise<void>;
}

/** Builds images, starts a registry and pushes `test/layers:v1`, `test/base:v1`, `test/multi:v1` (and hostile/<case>:v1). */
export async function setupRegistry(
  opts: { hostile?: boolean; registry?: StartRegistryOptions } = {},
): Promise<Fixture> {
  const tmp = await mkdtemp(join(tmpdir(), "servin-image-test-"));
  const imgs = await buildTestImages(join(tmp, "layout"));
  const hostile = opts.hostile ? await buildHostileImages(join(tmp, "hostile")) : undefined;
  const reg = await startRegistry(opts.registry);
  const creds = opts.registry?.htpasswd;
  try {
    for (const name of ["layers", "base", "multi"] as const) {
      await pushLayout(imgs.dir, name, `${reg.directHost}/test/${name}:v1`, creds ? { creds } : {});
    }
    if (hostile) {
      for (const name of Object.keys(hostile)) {
        await pushLayout(
          join(tmp, "hostile"),
          name,
          `${reg.directHost}/hostile/${name}:v1`,
          creds ? { creds } : {},
        );
      }
    }
  } catch (err) {
    await reg.stop();
    throw err;
  }
  let n = 0;
  return {
    tmp,
    reg,
    imgs,
    ...(hostile ? { hostile } : {}),
    async newRoot() {
      const dir = join(tmp, `root-${n++}`);
      await mkdir(dir);
      return dir;
    },
    async cleanup() {
      await reg.stop();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Blob GETs per digest in the registry's request log. */
export function blobFetches(reg: TestRegistry): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of reg.requestLog) {
    const m = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(r.path);
    if (m && r.method === "GET") counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}
