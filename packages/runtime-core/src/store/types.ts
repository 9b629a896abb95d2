/** The MetadataStore contract: where the runtime service persists pods and containers. */
import type { ContainerId, SandboxId } from "@servin/cri-types";
import type { ContainerRecord, SandboxRecord } from "../backend.js";
import type { ContainerStatusData } from "./container-status.js";
import type { SandboxStatusData } from "./sandbox-status.js";

/** A persisted pod sandbox: immutable metadata and mutable status, written together atomically. */
export interface StoredSandbox {
  metadata: SandboxRecord;
  status: SandboxStatusData;
}

/** A persisted container: immutable metadata and mutable status, written together atomically. */
export interface StoredContainer {
  metadata: ContainerRecord;
  status: ContainerStatusData;
}

export interface StoreSnapshot {
  sandboxes: StoredSandbox[];
  containers: StoredContainer[];
}

/**
 * Persistence for the runtime service. One object per pod sandbox and per
 * container; each `put` replaces the whole object atomically (a reader after a
 * crash sees the old or the new version, never a mix). Implementations must
 * serialise writes to the same ID in call order; `delete` of a missing ID succeeds.
 */
export interface MetadataStore {
  /** Reads every object (called once, at service start). */
  load(): Promise<StoreSnapshot>;
  putSandbox(entry: StoredSandbox): Promise<void>;
  deleteSandbox(id: SandboxId): Promise<void>;
  putContainer(entry: StoredContainer): Promise<void>;
  deleteContainer(id: ContainerId): Promise<void>;
  /** Flushes and releases handles. Data stays for the next service over the same store. */
  close(): Promise<void>;
}
