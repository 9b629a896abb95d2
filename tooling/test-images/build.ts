/**
 * Builds the offline test images (from /bin/busybox of Debian's busybox-static)
 * into an OCI layout: `node --import tsx tooling/test-images/build.ts OUTDIR [--hostile]`.
 * The library behind it is @servin/testkit (buildTestImages, buildHostileImages).
 */
import { join, resolve } from "node:path";
import { buildHostileImages, buildTestImages } from "../testkit/src/index.js";

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith("--"));
if (!out) {
  console.error("usage: build.ts OUTDIR [--hostile]");
  process.exit(2);
}
const dir = resolve(out);
const imgs = await buildTestImages(dir);
for (const img of [imgs.layers, imgs.base, imgs.multi]) {
  console.log(`oci:${dir}:${img.tag}\t${img.digest}\t${img.layers.length} layer(s)`);
}
if (args.includes("--hostile")) {
  const hostile = await buildHostileImages(join(dir, "hostile"));
  for (const [name, img] of Object.entries(hostile))
    console.log(`oci:${join(dir, "hostile")}:${name}\t${img.digest}`);
}
