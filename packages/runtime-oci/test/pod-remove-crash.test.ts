/**
 * RemovePodSandbox answers once its tombstone is durable; `runtime delete`, the unmounts, the
 * deletes and the cgroups come after the answer. A server killed between the two leaves the
 * tombstone, and the next start finishes the job: nothing of the pod is left. The fixture holds
 * the cleanup mid-way (a mount in the pod's run directory whose `umount` hangs) before it kills
 * itself, so the crash always interrupts an unfinished removal, however loaded the machine.
 */
import type { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { removeTree } from "../src/_mounts.js";
import { createOciBackend } from "../src/index.js";
import { canRunReal, destroyHarnessDirs, type Harness, leaks, spawnFixture } from "./fixtures/harness.js";

const real = canRunReal();
if (!real.ok && process.env.SERVIN_REQUIRE_REAL === "1")
  throw new Error(`SERVIN_REQUIRE_REAL=1 but ${real.why}`);

describe.skipIf(!real.ok)("oci backend: a crash between RemovePodSandbox's answer and its cleanup", () => {
  it("SIGKILL right after the answer: the record is gone, the tombstone stays, the next start leaves nothing", async () => {
    await crashAfterAnswer("pod");
  }, 90_000);

  it("held in a container's cleanup: the pod's waits behind it; both tombstones stay, the next start finishes both", async () => {
    await crashAfterAnswer("container");
  }, 90_000);
});

/** Runs the fixture with its hold in the pod's or the container's cleanup, then a second start. */
async function crashAfterAnswer(holdIn: "pod" | "container"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "servin-oci-podrmcrash-"));
  const cgroupParent = `servin-podrmcrash-${randomBytes(3).toString("hex")}`;
  const h = { dir, root: join(dir, "root"), stateDir: join(dir, "state"), cgroupParent } as Harness;
  let child: ReturnType<typeof spawn> | undefined;
  let held: number | undefined;
  try {
    const proc = spawnFixture("pod-remove-child.ts", [dir, cgroupParent, holdIn]);
    proc.stdout.resume(); // it says nothing there; drained all the same
    child = proc;
    let err = "";
    proc.stderr.on("data", (d) => {
      err += d;
    });
    const signal = await new Promise<NodeJS.Signals | null>((r) => proc.on("exit", (_code, sig) => r(sig)));
    expect(signal, err).toBe("SIGKILL");
    held = Number(readFileSync(join(dir, "held"), "utf8").trim());
    process.kill(held, "SIGKILL"); // the hung `umount` stand-in
    const { podSandboxId, containerId } = JSON.parse(readFileSync(join(dir, "removed.json"), "utf8")) as {
      podSandboxId: string;
      containerId: string;
    };

    // The crash landed between the answer and the end of the cleanup: the core's record is gone,
    // the backend's tombstone and the pod's leftovers are there.
    expect(readdirSync(join(dir, "store"), { recursive: true }).join(" ")).not.toContain(podSandboxId);
    expect(existsSync(join(h.root, "sandbox-removals", podSandboxId))).toBe(true);
    // Its /dev/shm (the infra runs without a bundle now: catatonit started directly).
    expect(existsSync(join(h.stateDir, "sandboxes", podSandboxId))).toBe(true);
    expect(existsSync(join(h.root, "sandboxes", podSandboxId))).toBe(true);
    // Held in the container's cleanup: its tombstone stays too, and so does its bundle.
    expect(existsSync(join(h.root, "container-removals", containerId))).toBe(holdIn === "container");
    expect(existsSync(join(h.stateDir, "bundles", containerId))).toBe(holdIn === "container");

    // The next start finishes it (in the background; close() waits for it).
    const backend = await createOciBackend({ root: h.root, stateDir: h.stateDir, cgroupParent });
    await backend.close();
    expect(await leaks(h)).toEqual([]);
  } finally {
    child?.kill("SIGKILL");
    if (held) {
      try {
        process.kill(held, "SIGKILL");
      } catch {}
    }
    // The hold's mount is left only when the test failed before the next start unmounted it.
    await removeTree(dir).catch(() => undefined);
    destroyHarnessDirs(h);
  }
}
