/**
 * Starts a local docker-registry with the test images pushed, prints where, and
 * stops it on Ctrl-C: `node --import tsx tooling/registry/start.ts [--htpasswd user:pass]`.
 * The library behind it is @servin/testkit (startRegistry, pushLayout).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTestImages, pushLayout, startRegistry } from "../testkit/src/index.js";

const i = process.argv.indexOf("--htpasswd");
const [username, password] = i > 0 ? (process.argv[i + 1] ?? "").split(":") : [];
const htpasswd = username && password ? { username, password } : undefined;
const tmp = await mkdtemp(join(tmpdir(), "servin-test-images-"));
const reg = await startRegistry(htpasswd ? { htpasswd } : {});
try {
  const imgs = await buildTestImages(join(tmp, "layout"));
  for (const name of ["layers", "base", "multi"]) {
    await pushLayout(
      imgs.dir,
      name,
      `${reg.directHost}/test/${name}:v1`,
      htpasswd ? { creds: htpasswd } : {},
    );
    console.log(`${reg.host}/test/${name}:v1`);
  }
  console.log(`registry: ${reg.url} (direct: http://${reg.directHost}); Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
} finally {
  await reg.stop();
  await rm(tmp, { recursive: true, force: true });
}
