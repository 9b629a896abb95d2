import type { ImageId } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { toCriImage } from "./_records.js";
import type { ImageRecord } from "./backend.js";

const record = (): ImageRecord => ({
  id: `sha256:${"a".repeat(64)}` as ImageId,
  repoTags: ["docker.io/library/busybox:latest"],
  repoDigests: [`docker.io/library/busybox@sha256:${"b".repeat(64)}`],
  size: 1000,
  manifestDigest: `sha256:${"c".repeat(64)}`,
  manifestMediaType: "application/vnd.oci.image.manifest.v1+json",
  configMediaType: "application/vnd.oci.image.config.v1+json",
  layers: [],
  config: { config: { User: "1000:1000" } } as ImageRecord["config"],
  storedAt: "0",
});

describe("toCriImage", () => {
  it("answers one frozen view per version of a record, with uid derived from the config's User", () => {
    const rec = record();
    const view = toCriImage(rec);
    expect(view).toEqual({
      id: rec.id,
      repoTags: ["docker.io/library/busybox:latest"],
      repoDigests: rec.repoDigests,
      size: 1000,
      spec: { image: rec.id },
      pinned: false,
      uid: { value: 1000 },
    });
    expect(toCriImage(rec)).toBe(view);
    expect(Object.isFrozen(view) && Object.isFrozen(view.repoTags) && Object.isFrozen(view.spec)).toBe(true);
    expect(() => (view.repoTags as string[]).push("x")).toThrow(TypeError);
  });

  it("makes a new view when the record changes in place: tags pushed or replaced, digests, size, pin", () => {
    const rec = record();
    let before = toCriImage(rec);
    const changes: Array<[string, () => void, (v: ReturnType<typeof toCriImage>) => unknown, unknown]> = [
      ["a tag pushed", () => rec.repoTags.push("example.com/b:1"), (v) => v.repoTags.length, 2],
      ["tags replaced", () => (rec.repoTags = ["example.com/b:1"]), (v) => v.repoTags, ["example.com/b:1"]],
      [
        "a digest pushed",
        () => rec.repoDigests.push("example.com/b@sha256:0"),
        (v) => v.repoDigests.length,
        2,
      ],
      ["digests replaced", () => (rec.repoDigests = []), (v) => v.repoDigests, []],
      ["size", () => (rec.size = 7), (v) => v.size, 7],
      ["pinned", () => (rec.pinned = true), (v) => v.pinned, true],
    ];
    for (const [what, change, read, expected] of changes) {
      change();
      const after = toCriImage(rec);
      expect(after, what).not.toBe(before);
      expect(read(after), what).toEqual(expected);
      expect(toCriImage(rec), what).toBe(after);
      before = after;
    }
  });
});
