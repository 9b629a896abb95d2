/** Descriptions of the CRI image messages: images, filters, filesystem usage. */
import type { Image, ImageFilter } from "@servin/cri-types";
import { bool, list, message, msg, opt, str, u64 } from "../_schema.js";
import { ImageSpecDef, Int64ValueDef } from "./_common.js";

export const ImageDef = message<Image>("Image", {
  id: str,
  repoTags: list(str),
  repoDigests: list(str),
  size: u64,
  uid: opt(msg(Int64ValueDef)),
  username: opt(str),
  spec: opt(msg(ImageSpecDef)),
  pinned: opt(bool),
});

export const ImageFilterDef = message<ImageFilter>("ImageFilter", { image: opt(msg(ImageSpecDef)) });
