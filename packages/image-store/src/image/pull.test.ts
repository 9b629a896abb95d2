import type { PullImageRequest, PullProgress } from "@servin/cri-types";
import { afterEach, describe, expect, it } from "vitest";
import { gatedBackend } from "../_test-harness.js";
import { createImageService, type ServinImageService } from "../service.js";

let s: ServinImageService | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

const tick = () => new Promise((r) => setImmediate(r));

describe("pullImage", () => {
  it("runs identical concurrent pulls once; a joiner first gets the latest progress of every blob", async () => {
    const gated = gatedBackend();
    s = await createImageService({ backend: gated.backend });
    const first = s.pullImage({ image: { image: "alpine" } });
    while (gated.pulls.length === 0) await tick();
    const seen: PullProgress[] = [];
    const second = s.pullImage(
      { image: { image: "docker.io/library/alpine:latest" } },
      { onProgress: (e) => seen.push(e) },
    );
    await tick();
    expect(seen.map((e) => e.digest)).toEqual(["sha256:started"]);
    gated.open();
    const [a, b] = await Promise.all([first, second]);
    expect(b.imageRef).toBe(a.imageRef);
    expect(gated.pulls).toHaveLength(1);
    // Another reference is another pull.
    await s.pullImage({ image: { image: "alpine:3" } });
    expect(gated.pulls).toHaveLength(2);
  });

  it("a caller that gives up leaves with Aborted; the pull goes on for the others and is cancelled with the last", async () => {
    const gated = gatedBackend();
    s = await createImageService({ backend: gated.backend });
    const quitter = new AbortController();
    const stayer = s.pullImage({ image: { image: "alpine" } });
    const leaving = s.pullImage({ image: { image: "alpine" } }, { signal: quitter.signal });
    while (gated.pulls.length === 0) await tick();
    quitter.abort();
    await expect(leaving).rejects.toMatchObject({
      code: "Aborted",
      message: 'pull of "docker.io/library/alpine:latest" was cancelled',
    });
    expect(gated.signals[0]?.aborted).toBe(false);
    gated.open();
    await expect(stayer).resolves.toMatchObject({ imageRef: expect.stringMatching(/^sha256:/) });

    await s.close();
    const fresh = gatedBackend();
    s = await createImageService({ backend: fresh.backend });
    const only = new AbortController();
    const lone = s.pullImage({ image: { image: "busybox" } }, { signal: only.signal });
    while (fresh.pulls.length === 0) await tick();
    only.abort();
    await expect(lone).rejects.toMatchObject({ code: "Aborted" });
    expect(fresh.signals[0]?.aborted).toBe(true);
  });

  it("names the field of a request without an image", async () => {
    s = await createImageService({ backend: gatedBackend().backend });
    await expect(s.pullImage({} as PullImageRequest)).rejects.toMatchObject({
      code: "InvalidArgument",
      message: "image.image: expected a non-empty string",
    });
  });
});
