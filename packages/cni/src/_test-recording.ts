/**
 * Test helper: a CniNetwork over recording plugins (shell scripts that append what they were asked to a
 * log) in a temp dir, for the unit tests that look at what CniNetwork hands each plugin and which runs
 * it leaves out. The real plugins are in test/network.test.ts.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniNetwork } from "./network.js";

export interface RecordingNetwork {
  cni: CniNetwork;
  /** The file every plugin appends its line to. */
  log: string;
  close(): Promise<void>;
}

/**
 * @example
 * const net = await recordingNetwork("servin-cni-x-", { rec: (log) => `echo "$CNI_COMMAND" >>${log}` }, {
 *   cniVersion: "1.0.0", name: "x", plugins: [{ type: "rec" }],
 * });
 * await net.close();
 */
export async function recordingNetwork(
  prefix: string,
  plugins: Record<string, (log: string) => string>,
  conflist: object,
): Promise<RecordingNetwork> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const bin = join(dir, "bin");
  const log = join(dir, "log");
  await mkdir(bin);
  await mkdir(join(dir, "net.d"));
  for (const [type, script] of Object.entries(plugins)) {
    const path = join(bin, type);
    await writeFile(path, `#!/bin/sh\n${script(log)}`);
    await chmod(path, 0o755);
  }
  await writeFile(join(dir, "net.d", "10.conflist"), JSON.stringify(conflist));
  const cni = new CniNetwork({
    confDir: join(dir, "net.d"),
    binDirs: [bin],
    cacheDir: join(dir, "cache"),
    netnsDir: join(dir, "netns"),
  });
  await cni.start();
  return {
    cni,
    log,
    async close() {
      cni.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
