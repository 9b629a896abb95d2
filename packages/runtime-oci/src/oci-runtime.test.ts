/** signalInit: a container's init is signalled directly only while /proc shows the very process runc recorded. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { signalInit } from "./oci-runtime.js";

const linux = process.platform === "linux";

/** A real process standing in for a container's init, and runc's state.json for it (its start time shifted by `skew`). */
function fakeInit(skew = 0): { child: ChildProcess; dir: string; exited: Promise<NodeJS.Signals | null> } {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.once("exit", (_code, sig) => r(sig)));
  const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
  const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  const dir = mkdtempSync(join(tmpdir(), "servin-signal-"));
  writeFileSync(
    join(dir, "state.json"),
    JSON.stringify({ id: "x", init_process_pid: child.pid, init_process_start: start + skew }),
  );
  return { child, dir, exited };
}

describe.skipIf(!linux)("signalInit", () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const f of cleanup.splice(0)) f();
  });
  const track = (f: ReturnType<typeof fakeInit>) => {
    cleanup.push(() => {
      f.child.kill("SIGKILL");
      rmSync(f.dir, { recursive: true, force: true });
    });
    return f;
  };

  it("signals the recorded init when its pid and start time match", async () => {
    const f = track(fakeInit());
    expect(await signalInit(f.dir, "SIGTERM")).toBe("sent");
    expect(await f.exited).toBe("SIGTERM");
  });

  it("takes runc's spellings: KILL and a number", async () => {
    const a = track(fakeInit());
    expect(await signalInit(a.dir, "KILL")).toBe("sent");
    expect(await a.exited).toBe("SIGKILL");
    const b = track(fakeInit());
    expect(await signalInit(b.dir, "15")).toBe("sent");
    expect(await b.exited).toBe("SIGTERM");
  });

  it("never signals a pid whose start time differs (a recycled pid): the init counts as stopped", async () => {
    const f = track(fakeInit(1));
    expect(await signalInit(f.dir, "KILL")).toBe("stopped");
    expect(f.child.exitCode).toBeNull();
    expect(() => process.kill(f.child.pid as number, 0)).not.toThrow();
  });

  it("says stopped once the init has exited, and for an unknown container", async () => {
    const f = track(fakeInit());
    f.child.kill("SIGKILL");
    await f.exited;
    expect(await signalInit(f.dir, "TERM")).toBe("stopped");
    expect(await signalInit(join(f.dir, "missing"), "TERM")).toBe("stopped");
  });

  it("leaves the decision to the runtime when it cannot tell: torn state, a signal Node cannot name", async () => {
    const f = track(fakeInit());
    expect(await signalInit(f.dir, "SIGRTMIN+3")).toBeUndefined();
    writeFileSync(join(f.dir, "state.json"), '{"init_process_pid": 12');
    expect(await signalInit(f.dir, "TERM")).toBeUndefined();
    expect(f.child.exitCode).toBeNull();
  });
});
