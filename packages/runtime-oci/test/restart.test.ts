import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerRecord, SandboxRecord } from "@servin/runtime-core";
import { describe, expect, it } from "vitest";
import { createOciBackend } from "../src/index.js";
import { canRunReal, destroyHarnessDirs, type Harness, leaks, spawnFixture } from "./fixtures/harness.js";

const real = canRunReal();

/**
 * Runs a server fixture in a child process until `ready(stdout)` yields a value,
 * then SIGKILLs it (a crash, not a shutdown) and returns that value.
 */
async function runChildThenKill<T>(
  fixture: string,
  dir: string,
  cgroupParent: string,
  ready: (stdout: string) => T | undefined,
): Promise<T> {
  const child = spawnFixture(fixture, [dir, cgroupParent]);
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => {
    err += d;
  });
  const value = await new Promise<T>((resolveReady, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const v = ready(out);
      if (v !== undefined) resolveReady(v);
    });
    child.on("exit", (code) => reject(new Error(`${fixture} exited early (${code}): ${err}`)));
  });
  const exited = new Promise((r) => child.on("exit", r));
  child.kill("SIGKILL");
  await exited;
  return value;
}

/** conmon alone writes a container's exit file while no server runs; wait up to 10 s for it. */
async function waitForExitFile(stateDir: string, id: string): Promise<string> {
  const exitFile = join(stateDir, "exits", id);
  for (let i = 0; i < 100 && !existsSync(exitFile); i++) await new Promise((r) => setTimeout(r, 100));
  return exitFile;
}

describe.skipIf(!real.ok)("oci backend: restart safety (real runc + conmon)", () => {
  it("keeps containers running across a SIGKILL of the server and reconciles every state", async () => {
    const dir = mkdtempSync(join(tmpdir(), "servin-oci-restart-"));
    const cgroupParent = `servin-restart-${randomBytes(3).toString("hex")}`;
    const h = { dir, root: join(dir, "root"), stateDir: join(dir, "state"), cgroupParent } as Harness;
    try {
      await runChildThenKill("server-child.ts", dir, cgroupParent, (out) =>
        out.includes("ready") ? true : undefined,
      );

      const rec = JSON.parse(readFileSync(join(dir, "records.json"), "utf8")) as {
        pod: SandboxRecord;
        running: ContainerRecord;
        exiter: ContainerRecord;
        created: ContainerRecord;
      };
      // The exiter ends while no server runs: conmon alone records it.
      expect(existsSync(await waitForExitFile(h.stateDir, rec.exiter.id))).toBe(true);

      const backend = await createOciBackend({ root: h.root, stateDir: h.stateDir, cgroupParent });
      expect((await backend.inspectSandbox(rec.pod)).ready).toBe(true);
      expect(await backend.inspectContainer(rec.running)).toMatchObject({ state: "running" });
      expect(await backend.inspectContainer(rec.exiter)).toMatchObject({
        state: "exited",
        exit: { exitCode: 5, reason: "Error" },
      });
      expect(await backend.inspectContainer(rec.created)).toMatchObject({ state: "created" });
      // Still fully usable: exec, then an orderly teardown leaves nothing behind.
      const r = await backend.execSync(rec.running, ["echo", "alive"], 10);
      expect(Buffer.from(r.stdout).toString()).toBe("alive\n");
      for (const c of [rec.running, rec.exiter, rec.created]) await backend.removeContainer(c, rec.pod);
      await backend.stopSandbox(rec.pod);
      await backend.removeSandbox(rec.pod);
      await backend.close();
      expect(await leaks(h)).toEqual([]);
    } finally {
      destroyHarnessDirs(h);
    }
  }, 90_000);

  it("a backend closed and reopened over the same dirs sees exits that happened meanwhile", async () => {
    const { createHarness, containerRecord, createAndStart, runPod, sandboxRecord } = await import(
      "./fixtures/harness.js"
    );
    const h = await createHarness();
    try {
      const pod = await runPod(h.backend, sandboxRecord({}, h.logDir));
      const quick = await createAndStart(
        h.backend,
        containerRecord(pod, h.image, { command: ["sh", "-c", "sleep 1; exit 0"] }),
        pod,
      );
      const long = await createAndStart(
        h.backend,
        containerRecord(pod, h.image, { command: ["sleep", "3600"] }),
        pod,
      );
      await h.backend.close();
      await waitForExitFile(h.stateDir, quick.id);
      const backend = await h.reopen();
      expect(await backend.inspectContainer(quick)).toMatchObject({
        state: "exited",
        exit: { exitCode: 0, reason: "Completed" },
      });
      const obs = await backend.inspectContainer(long);
      expect(obs).toMatchObject({ state: "running" });
      expect(obs.state === "running" && obs.startedAt).toBeGreaterThan(0n);
      for (const c of [quick, long]) await backend.removeContainer(c, pod);
      await backend.removeSandbox(pod);
      expect(await leaks(h)).toEqual([]);
      await backend.close();
    } finally {
      destroyHarnessDirs(h);
    }
  }, 60_000);

  it("through runtime-core: SIGKILL the CRI server while containers run, restart it, every state is right", async () => {
    const { CriError } = await import("@servin/cri-types");
    const { createFileStore, createRuntimeService } = await import("@servin/runtime-core");
    const { makeBusyboxImage } = await import("./fixtures/busybox-image.js");
    const dir = mkdtempSync(join(tmpdir(), "servin-oci-crikill-"));
    const cgroupParent = `servin-crikill-${randomBytes(3).toString("hex")}`;
    const h = { dir, root: join(dir, "root"), stateDir: join(dir, "state"), cgroupParent } as Harness;
    try {
      const ids = await runChildThenKill<{
        podSandboxId: string;
        running: string;
        exiter: string;
        created: string;
      }>("cri-server-child.ts", dir, cgroupParent, (out) => {
        const line = out.split("\n").find((l) => l.startsWith("{"));
        return line && out.includes("\n") ? JSON.parse(line) : undefined;
      });
      await waitForExitFile(h.stateDir, ids.exiter);

      // The image fixture is rebuilt in place (same dirs) — the child made it already.
      const image = makeBusyboxImage(join(dir, "image"));
      const runtime = await createRuntimeService({
        backend: await createOciBackend({ root: h.root, stateDir: h.stateDir, cgroupParent }),
        images: {
          async resolveImage(ref) {
            if (ref === image.ref) return image;
            throw CriError.notFound(`image "${ref}" not found`);
          },
        },
        store: await createFileStore(join(dir, "store")),
      });
      try {
        const pod = await runtime.podSandboxStatus({ podSandboxId: ids.podSandboxId });
        expect(pod.status.state).toBe("SANDBOX_READY");
        const st = async (id: string) => (await runtime.containerStatus({ containerId: id })).status;
        expect(await st(ids.running)).toMatchObject({ state: "CONTAINER_RUNNING" });
        expect(await st(ids.exiter)).toMatchObject({
          state: "CONTAINER_EXITED",
          exitCode: 5,
          reason: "Error",
        });
        expect((await st(ids.exiter)).finishedAt).toBeGreaterThan(0n);
        expect(await st(ids.created)).toMatchObject({ state: "CONTAINER_CREATED" });
        const logPath = (await st(ids.exiter)).logPath ?? "";
        expect(readFileSync(logPath, "utf8")).toMatch(/ stdout F bye\n/);
        await runtime.removePodSandbox({ podSandboxId: ids.podSandboxId });
      } finally {
        await runtime.close();
      }
      expect(await leaks(h)).toEqual([]);
    } finally {
      destroyHarnessDirs(h);
    }
  }, 90_000);
});
