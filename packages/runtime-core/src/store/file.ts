/** A MetadataStore on disk: one versioned JSON file per object, written atomically. */
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerId, SandboxId } from "@servin/cri-types";
import { CriError } from "@servin/cri-types";
import { atomicWriteFile, isAtomicTempFile, type Logger, silentLogger, syncDir } from "@servin/node-kit";
import { parseTagged, stringifyTagged } from "../_json.js";
import { CONTAINER_STATUS_VERSION } from "./container-status.js";
import { SANDBOX_STATUS_VERSION } from "./sandbox-status.js";
import type { MetadataStore, StoredContainer, StoredSandbox } from "./types.js";

/** Version of the file envelope; readers refuse versions they do not know rather than guess. */
export const STORE_FILE_VERSION = 1;

const OBJECT_FILE = /^[0-9a-f]{64}\.json$/;

interface Envelope<M, S> {
  version: number;
  kind: "sandbox" | "container";
  statusVersion: number;
  metadata: M;
  status: S;
}

export interface FileStoreOptions {
  /** Where to report files that cannot be read (they are renamed to `*.corrupt` and skipped). */
  logger?: Logger;
}

/**
 * Opens (creating if needed) a store under `dir`:
 * `dir/sandboxes/<id>.json` and `dir/containers/<id>.json`. Every write goes
 * to a temp file that is fsynced, renamed over the target, and the directory
 * fsynced, so after a crash each file holds a complete old or new version.
 *
 * @example
 * const store = await createFileStore("/var/lib/servin/runtime");
 * const runtime = await createRuntimeService({ backend, images, store });
 */
export async function createFileStore(dir: string, options: FileStoreOptions = {}): Promise<MetadataStore> {
  const logger = options.logger ?? silentLogger;
  const sandboxDir = join(dir, "sandboxes");
  const containerDir = join(dir, "containers");
  await mkdir(sandboxDir, { recursive: true, mode: 0o700 });
  await mkdir(containerDir, { recursive: true, mode: 0o700 });

  // Writes to one file are serialised in call order; different files proceed in parallel.
  const queues = new Map<string, Promise<void>>();
  let closed = false;
  const enqueue = (path: string, op: () => Promise<void>): Promise<void> => {
    if (closed) return Promise.reject(CriError.internal(`metadata store "${dir}" is closed`));
    const previous = queues.get(path) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(op);
    const tracked = next.finally(() => {
      if (queues.get(path) === tracked) queues.delete(path);
    });
    queues.set(path, tracked);
    return next;
  };

  const write = (folder: string, id: string, envelope: Envelope<unknown, unknown>) => {
    const path = join(folder, `${id}.json`);
    return enqueue(path, () => atomicWriteFile(path, stringifyTagged(envelope, 1)));
  };
  const remove = (folder: string, id: string) => {
    const path = join(folder, `${id}.json`);
    return enqueue(path, async () => {
      await rm(path, { force: true });
      await syncDir(folder);
    });
  };

  async function readAll<M extends { id: string }, S>(
    folder: string,
    kind: Envelope<M, S>["kind"],
    statusVersion: number,
  ): Promise<Array<{ metadata: M; status: S }>> {
    const out: Array<{ metadata: M; status: S }> = [];
    for (const name of await readdir(folder)) {
      const path = join(folder, name);
      if (isAtomicTempFile(name)) {
        // A temp file is a write that never reached its rename: the target still holds the previous version.
        await rm(path, { force: true });
        continue;
      }
      if (!OBJECT_FILE.test(name)) continue;
      let envelope: Envelope<M, S>;
      try {
        envelope = parseTagged(await readFile(path, "utf8")) as Envelope<M, S>;
      } catch (err) {
        logger.error(`metadata file "${path}" is unreadable; moved aside to .corrupt`, err);
        await rename(path, `${path}.corrupt`).catch(() => {});
        continue;
      }
      if (envelope.version !== STORE_FILE_VERSION || envelope.statusVersion !== statusVersion) {
        throw CriError.internal(
          `metadata file "${path}": unsupported version ${envelope.version}/${envelope.statusVersion} ` +
            `(this servin reads ${STORE_FILE_VERSION}/${statusVersion})`,
        );
      }
      if (envelope.kind !== kind || `${envelope.metadata?.id}.json` !== name) {
        logger.error(`metadata file "${path}" does not describe ${kind} ${name}; moved aside to .corrupt`);
        await rename(path, `${path}.corrupt`).catch(() => {});
        continue;
      }
      out.push({ metadata: envelope.metadata, status: envelope.status });
    }
    return out;
  }

  return {
    async load() {
      return {
        sandboxes: await readAll<StoredSandbox["metadata"], StoredSandbox["status"]>(
          sandboxDir,
          "sandbox",
          SANDBOX_STATUS_VERSION,
        ),
        containers: await readAll<StoredContainer["metadata"], StoredContainer["status"]>(
          containerDir,
          "container",
          CONTAINER_STATUS_VERSION,
        ),
      };
    },
    putSandbox(entry) {
      return write(sandboxDir, entry.metadata.id, {
        version: STORE_FILE_VERSION,
        kind: "sandbox",
        statusVersion: SANDBOX_STATUS_VERSION,
        metadata: entry.metadata,
        status: entry.status,
      });
    },
    deleteSandbox(id: SandboxId) {
      return remove(sandboxDir, id);
    },
    putContainer(entry) {
      return write(containerDir, entry.metadata.id, {
        version: STORE_FILE_VERSION,
        kind: "container",
        statusVersion: CONTAINER_STATUS_VERSION,
        metadata: entry.metadata,
        status: entry.status,
      });
    },
    deleteContainer(id: ContainerId) {
      return remove(containerDir, id);
    },
    async close() {
      closed = true;
      await Promise.allSettled([...queues.values()]);
    },
  };
}
