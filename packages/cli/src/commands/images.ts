/** Image commands: pull, images, rmi, image inspect — through a running servin. */
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { defineCommand } from "citty";
import { consola } from "consola";
import { connect, connectArgs } from "../connect.js";
import {
  decodeVerboseInfo,
  inspectOutputArgs,
  listOutputArgs,
  outputFormat,
  printStructured,
} from "../output/format.js";
import { createProgressView } from "../output/progress.js";
import { humanBytes, renderTable, shortId, tableId } from "../output/table.js";

export const pullCommand = defineCommand({
  args: {
    ...connectArgs,
    image: {
      type: "positional",
      description: "Image reference, e.g. busybox:latest or 127.0.0.1:5000/app@sha256:…",
      required: true,
    },
    creds: { type: "string", description: "Registry credentials USER:PASSWORD" },
  },
  async run({ args }) {
    const cri = connect(args, 30 * 60_000);
    const auth = args.creds ? splitCreds(args.creds) : undefined;
    const started = performance.now();
    consola.start(`pulling ${args.image}`);
    const view = createProgressView();
    const { imageRef } = await cri
      .pullImageWithProgress({ image: { image: args.image }, ...(auth ? { auth } : {}) }, (p) =>
        view.update(p),
      )
      .finally(() => view.done());
    consola.success(`pulled ${args.image} in ${((performance.now() - started) / 1000).toFixed(1)}s`);
    consola.log(`image: ${imageRef}`);
  },
});

function splitCreds(creds: string): { username: string; password: string } {
  const i = creds.indexOf(":");
  if (i <= 0) throw new Error("--creds: expected USER:PASSWORD");
  return { username: creds.slice(0, i), password: creds.slice(i + 1) };
}

export const imagesCommand = defineCommand({
  args: {
    ...connectArgs,
    ...listOutputArgs,
    digests: { type: "boolean", description: "Show digests" },
    image: {
      type: "positional",
      description: "Only this image (tag, digest, ID or ID prefix), as crictl images REF",
      required: false,
    },
  },
  async run({ args }) {
    const format = outputFormat(args, ["json", "yaml", "table"], "table");
    const res = await connect(args).listImages(
      args.image ? { filter: { image: { image: args.image } } } : {},
    );
    // crictl images -q: each image's full ID once, however many tags it has
    if (args.quiet) {
      if (res.images.length > 0) process.stdout.write(`${res.images.map((i) => i.id).join("\n")}\n`);
      return;
    }
    if (format !== "table") return printStructured("listImages", res, format);
    const rows: string[][] = [];
    for (const image of res.images) {
      const tags = image.repoTags.length > 0 ? image.repoTags : ["<none>:<none>"];
      for (const tag of tags) {
        const at = tag.lastIndexOf(":");
        const slash = tag.lastIndexOf("/");
        const [repo, t] = at > slash ? [tag.slice(0, at), tag.slice(at + 1)] : [tag, "<none>"];
        const digest = image.repoDigests[0]?.split("@")[1] ?? "<none>";
        rows.push([
          repo,
          t,
          ...(args.digests ? [digest === "<none>" ? digest : tableId(digest, args.trunc)] : []),
          tableId(image.id, args.trunc),
          humanBytes(image.size),
        ]);
      }
    }
    consola.log(renderTable(["IMAGE", "TAG", ...(args.digests ? ["DIGEST"] : []), "IMAGE ID", "SIZE"], rows));
  },
});

export const rmiCommand = defineCommand({
  args: { ...connectArgs, image: { type: "positional", description: "Image(s) to remove", required: true } },
  async run({ args }) {
    const cri = connect(args);
    let failed = false;
    for (const image of [args.image, ...args._.slice(1)].filter((x, i, all) => all.indexOf(x) === i)) {
      const { image: found } = await cri.imageStatus({ image: { image } });
      if (!found) {
        consola.error(`image "${image}" not found`);
        failed = true;
        continue;
      }
      await cri.removeImage({ image: { image } });
      consola.log(`Deleted: ${found.repoTags[0] ?? found.id}`);
    }
    if (failed) process.exitCode = 1;
  },
});

export const inspectImageCommand = defineCommand({
  args: {
    ...connectArgs,
    ...inspectOutputArgs,
    image: { type: "positional", description: "Image", required: true },
  },
  async run({ args }) {
    const format = outputFormat(args, ["json", "yaml"], "json");
    const res = await connect(args).imageStatus({ image: { image: args.image }, verbose: true });
    if (!res.image) throw new Error(`image "${args.image}" not found`);
    printStructured("imageStatus", res, format, decodeVerboseInfo);
  },
});

export const importImageCommand = defineCommand({
  args: {
    ...connectArgs,
    file: {
      type: "positional",
      description: "Archive on this machine ('-' reads standard input)",
      required: true,
    },
  },
  async run({ args }) {
    let archive: AsyncIterable<Uint8Array>;
    if (args.file === "-") archive = process.stdin;
    else {
      const path = resolve(args.file);
      const st = await stat(path).catch(() => undefined);
      if (!st) throw new Error(`${args.file}: no such file`);
      if (st.isDirectory())
        throw new Error(
          `${args.file} is a directory: pack the OCI layout first (tar -cf - -C ${args.file} . | servin image import -)`,
        );
      archive = createReadStream(path);
    }
    const imported = await connect(args).importImage(archive);
    for (const image of imported)
      consola.log(`imported ${image.repoTags[0] ?? "<untagged>"} ${shortId(image.id)}`);
    if (imported.length === 0) consola.warn("the archive held no image");
  },
});

export const exportImageCommand = defineCommand({
  args: {
    ...connectArgs,
    image: { type: "positional", description: "Image", required: true },
    output: {
      type: "string",
      alias: "o",
      description: "Write to this file on this machine (default stdout)",
    },
    dest: { type: "positional", description: "Destination file (same as -o)", required: false },
  },
  async run({ args }) {
    const dest = args.output ?? args.dest;
    if (!dest && process.stdout.isTTY)
      throw new Error("refusing to write a tar to a terminal: give -o FILE or redirect standard output");
    const tar = await connect(args).exportImage(args.image);
    if (!dest) {
      await pipeline(Readable.from(tar), process.stdout);
      return;
    }
    const path = resolve(dest);
    // Written beside the destination and renamed: a broken stream never leaves a truncated archive.
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      await pipeline(Readable.from(tar), createWriteStream(tmp, { mode: 0o644 }));
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    consola.log(`exported ${args.image} to ${path}`);
  },
});
