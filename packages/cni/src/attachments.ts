/**
 * Attachment records: one JSON file per pod attachment, written (atomically, fsynced) BEFORE
 * each step touches the OS, so a restart after SIGKILL can always finish or undo it.
 *
 *   (none) --setup--> adding --all plugins ADDed, result cached--> added
 *      adding | added --teardown--> deleting --all plugins DELed--> (record removed)
 *
 * A record in `adding` or `deleting` at start-up is work a crash interrupted; reconcile
 * DELs it. The record also keeps the network config and the ADD result (libcni's cache),
 * so DEL and CHECK use what ADD used even after the config file changed or vanished.
 */
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { atomicWriteFile, ignoreEnoent, isAtomicTempFile } from "@servin/node-kit";
import type { NetworkConfig } from "./config.js";
import { checkId } from "./netns.js";

export type AttachmentState = "adding" | "added" | "deleting";

/** What the runtime knows of the pod, passed to the plugins as CNI_ARGS (kubelet's names). */
export interface PodIdentity {
  podNamespace: string;
  podName: string;
  podUid: string;
}

/** The CRI capabilities a conflist may declare, passed to the plugins that declare them as `runtimeConfig`. */
export interface RuntimeConfig {
  portMappings?: Array<{
    hostPort: number;
    containerPort: number;
    protocol: "tcp" | "udp" | "sctp";
    hostIP?: string;
  }>;
  bandwidth?: { ingressRate?: number; ingressBurst?: number; egressRate?: number; egressBurst?: number };
  dns?: { servers?: string[]; searches?: string[]; options?: string[] };
  ips?: string[];
}

export interface AttachmentRecord {
  version: 1;
  id: string;
  state: AttachmentState;
  netnsPath: string;
  ifName: string;
  pod: PodIdentity;
  runtimeConfig: RuntimeConfig;
  /** The network as it was when ADD started (plugin paths are looked up again at DEL time). */
  network: {
    name: string;
    cniVersion: string;
    disableCheck: boolean;
    file: string;
    plugins: Array<Record<string, unknown>>;
  };
  /** The final ADD result, once `added`. */
  result?: Record<string, unknown>;
  updatedAt: string;
}

/** Directory-backed store of attachment records, `<dir>/<id>.json`. */
export class AttachmentStore {
  constructor(readonly dir: string) {}

  private path(id: string): string {
    checkId(id);
    return join(this.dir, `${id}.json`);
  }

  async get(id: string): Promise<AttachmentRecord | undefined> {
    const text = await ignoreEnoent(readFile(this.path(id), "utf8"));
    return text === undefined ? undefined : (JSON.parse(text) as AttachmentRecord);
  }

  /**
   * Persists `record` atomically before the caller acts on it; fsynced unless `durable` is
   * false (a state whose loss in a host crash changes nothing: see the callers).
   */
  async put(record: AttachmentRecord, durable = true): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await atomicWriteFile(
      this.path(record.id),
      JSON.stringify({ ...record, updatedAt: new Date().toISOString() }),
      { sync: durable },
    );
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  /** Every record; unreadable files are reported through `onBad` and skipped, temp files of interrupted writes removed. */
  async list(onBad: (file: string, err: unknown) => void = () => {}): Promise<AttachmentRecord[]> {
    const names = (await ignoreEnoent(readdir(this.dir))) ?? [];
    const out: AttachmentRecord[] = [];
    for (const name of names.sort()) {
      const file = join(this.dir, name);
      if (isAtomicTempFile(name)) {
        await rm(file, { force: true });
        continue;
      }
      if (!name.endsWith(".json")) continue;
      try {
        const rec = JSON.parse(await readFile(file, "utf8")) as AttachmentRecord;
        checkId(rec.id);
        out.push(rec);
      } catch (err) {
        onBad(file, err);
      }
    }
    return out;
  }
}

export function networkSnapshot(config: NetworkConfig): AttachmentRecord["network"] {
  return {
    name: config.name,
    cniVersion: config.cniVersion,
    disableCheck: config.disableCheck,
    file: config.file,
    plugins: config.plugins.map((p) => p.raw),
  };
}
