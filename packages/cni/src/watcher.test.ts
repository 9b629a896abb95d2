import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigWatcher, type NetworkStatus } from "./watcher.js";

let dir: string;
let bin: string;
let watcher: ConfigWatcher | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "servin-cni-watch-"));
  bin = join(dir, "bin");
  await mkdir(bin);
  for (const p of ["bridge", "host-local", "portmap"]) {
    await writeFile(join(bin, p), "#!/bin/sh\n");
    await chmod(join(bin, p), 0o755);
  }
});
afterEach(async () => {
  watcher?.close();
  await rm(dir, { recursive: true, force: true });
});

const conflist = (name: string, plugins = ["bridge", "portmap"]) =>
  JSON.stringify({ cniVersion: "1.0.0", name, plugins: plugins.map((type) => ({ type })) });

/** Resolves with the next status the watcher reports that satisfies `pred`. */
function next(w: ConfigWatcher, pred: (s: NetworkStatus) => boolean): Promise<NetworkStatus> {
  return new Promise((resolve) => {
    if (pred(w.status())) return resolve(w.status());
    const off = w.onChange((s) => {
      if (pred(s)) {
        off();
        resolve(s);
      }
    });
  });
}

describe("ConfigWatcher", () => {
  it("follows a config appearing, changing and disappearing (fs.watch, no re-scan needed)", async () => {
    const confDir = join(dir, "net.d");
    await mkdir(confDir);
    // a re-scan period far beyond the test: only fs.watch can deliver these events
    watcher = new ConfigWatcher({ confDir, binDirs: [bin], rescanMs: 3_600_000 });
    await watcher.start();
    expect(watcher.status()).toEqual({
      ready: false,
      reason: "NetworkPluginNotReady",
      message: `no cni config found in ${confDir}`,
    });
    expect(watcher.config()).toBeUndefined();

    // written elsewhere and renamed in, as config managers do
    await writeFile(join(dir, "tmp"), conflist("first"));
    await rename(join(dir, "tmp"), join(confDir, "10-net.conflist"));
    const ready = await next(watcher, (s) => s.ready);
    expect(ready.network).toEqual({
      name: "first",
      cniVersion: "1.0.0",
      file: join(confDir, "10-net.conflist"),
      plugins: ["bridge", "portmap"],
    });
    expect(watcher.config()?.name).toBe("first");

    await writeFile(join(confDir, "10-net.conflist"), conflist("second", ["bridge"]));
    expect((await next(watcher, (s) => s.network?.name === "second")).network?.plugins).toEqual(["bridge"]);

    await rm(join(confDir, "10-net.conflist"));
    expect((await next(watcher, (s) => !s.ready)).message).toBe(`no cni config found in ${confDir}`);
  });

  it("picks up a conf dir created after start through the periodic re-scan", async () => {
    const confDir = join(dir, "later");
    watcher = new ConfigWatcher({ confDir, binDirs: [bin], rescanMs: 100 });
    await watcher.start();
    expect(watcher.status().ready).toBe(false);
    await mkdir(confDir);
    await writeFile(join(confDir, "10.conflist"), conflist("late"));
    expect((await next(watcher, (s) => s.ready)).network?.name).toBe("late");
  });

  it("is not ready while a plugin is missing or the first file is broken, naming the problem", async () => {
    const confDir = join(dir, "net.d");
    await mkdir(confDir);
    await writeFile(join(confDir, "10.conflist"), conflist("n", ["bridge", "tuning"]));
    watcher = new ConfigWatcher({ confDir, binDirs: [bin], rescanMs: 3_600_000 });
    await watcher.start();
    expect(watcher.status()).toMatchObject({
      ready: false,
      reason: "NetworkPluginNotReady",
      message: `cni config ${join(confDir, "10.conflist")}: plugin "tuning" not found in ${bin}`,
    });
    await writeFile(join(confDir, "05.conflist"), "{ nope");
    await watcher.rescan();
    expect(watcher.status().message).toMatch(`cni config ${join(confDir, "05.conflist")}: invalid JSON`);
  });
});
