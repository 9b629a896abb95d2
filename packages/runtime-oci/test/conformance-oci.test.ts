/** The shared CRI conformance suite (runtime-core) over the real OCI backend, with a file store and restarts. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CriError, type ImageResolver } from "@servin/cri-types";
import { createFileStore, createRuntimeService, type ServinRuntimeService } from "@servin/runtime-core";
import { describeRuntimeConformance, restartableTarget } from "@servin/runtime-core/conformance";
import { describe, expect, it } from "vitest";
import { createOciBackend } from "../src/index.js";
import { makeBusyboxImage } from "./fixtures/busybox-image.js";
import { canRunReal, destroyHarnessDirs, type Harness, leaks } from "./fixtures/harness.js";

const real = canRunReal();

if (!real.ok) {
  describe.skip(`CRI runtime conformance: oci backend (skipped: ${real.why})`, () => {
    it("needs root, runc, conmon, catatonit and busybox", () => {});
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), "servin-oci-conf-"));
  const root = join(dir, "root");
  const stateDir = join(dir, "state");
  const cgroupParent = `servin-conf-${process.pid}`;
  const image = makeBusyboxImage(join(dir, "image"));
  const images: ImageResolver = {
    async resolveImage(ref) {
      if (ref === "busybox:latest" || ref === image.ref || ref === image.id) return image;
      throw CriError.notFound(`image "${ref}" not found`);
    },
  };
  const open = async (): Promise<ServinRuntimeService> =>
    createRuntimeService({
      backend: await createOciBackend({ root, stateDir, cgroupParent }),
      images,
      store: await createFileStore(join(dir, "store")),
    });

  describeRuntimeConformance(
    "oci backend (conmon + runc), file store",
    () =>
      restartableTarget(open, async () => {
        const h = { dir, root, stateDir, cgroupParent } as Harness;
        const left = await leaks(h);
        destroyHarnessDirs(h);
        expect(left).toEqual([]);
      }),
    { logDirectory: join(dir, "logs") },
  );
}
