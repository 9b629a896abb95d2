/**
 * The CNI network of a servin node: what the oci backend calls from RunPodSandbox
 * (createNetns, setup), StopPodSandbox (teardown), RemovePodSandbox (teardown, removeNetns)
 * and at start-up (reconcile). Each pod's steps are serialized; every step is recorded
 * before it touches the OS (see attachments.ts), so nothing leaks across a SIGKILL.
 */

import { stat } from "node:fs/promises";
import { join } from "node:path";
import { CriError } from "@servin/cri-types";
import { defaultPaths, ignoreEnoent, type Logger, silentLogger } from "@servin/node-kit";
import {
  type AttachmentRecord,
  AttachmentStore,
  networkSnapshot,
  type PodIdentity,
  type RuntimeConfig,
} from "./attachments.js";
import { DEFAULT_BIN_DIRS, DEFAULT_CONF_DIR, findPlugin, isObject } from "./config.js";
import { CniPluginError } from "./errors.js";
import { type CniCommand, DEFAULT_PLUGIN_TIMEOUT_MS, invokePlugin } from "./exec.js";
import {
  checkId,
  createNetns,
  DEFAULT_NETNS_DIR,
  listNetns,
  netnsMountPoint,
  netnsPath,
  removeNetns,
} from "./netns.js";
import { type CniResult, parseResult, podIps } from "./result.js";
import { ConfigWatcher, type NetworkStatus } from "./watcher.js";

export interface CniNetworkOptions {
  /** Default /etc/cni/net.d. */
  confDir?: string;
  /** Default /opt/cni/bin then /usr/lib/cni. */
  binDirs?: readonly string[];
  /** Attachment records and cached results; must survive a reboot (host-local's allocations do). Default `<data root>/cni` (/var/lib/servin/cni as root). */
  cacheDir?: string;
  /** Pinned namespaces. Default /run/servin/netns. */
  netnsDir?: string;
  /** Per plugin execution; default 60 s. */
  pluginTimeoutMs?: number;
  /** Conf dir re-scan period; default 5 s. */
  rescanMs?: number;
  logger?: Logger;
}

/** One pod's attachment request. */
export interface SetupRequest {
  /** The pod sandbox ID (CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID). */
  id: string;
  /** The pinned netns (from createNetns, or pinned by the runtime at netnsMountPoint's path). */
  netnsPath: string;
  /**
   * Settles once the runtime has pinned the netns at `netnsPath` (see netnsMountPoint): the
   * record is written meanwhile, the plugins run after. When it rejects, setup fails with its
   * reason and leaves nothing (no plugin has run).
   */
  netnsReady?: Promise<unknown>;
  pod: PodIdentity;
  /** Passed to plugins declaring the matching capability. */
  runtimeConfig?: RuntimeConfig;
  /** Default eth0. */
  ifName?: string;
  signal?: AbortSignal;
}

export interface Attachment {
  id: string;
  network: string;
  result: CniResult;
  /** IPv4 first: CRI `network.ip` is the first, `additional_ips` the rest. */
  ips: string[];
}

export interface ReconcileReport {
  /** IDs whose network was torn down (not live, or an interrupted ADD/DEL). */
  deleted: string[];
  /** Namespace files removed. */
  netnsRemoved: string[];
  /** Failures, by ID; reconcile carries on past them and a later reconcile retries. */
  failed: Array<{ id: string; error: string }>;
}

/**
 * @example
 * const cni = new CniNetwork({ confDir: "/etc/cni/net.d" });
 * await cni.start();
 * const netns = await cni.createNetns(sandboxId);
 * const { ips } = await cni.setup({ id: sandboxId, netnsPath: netns, pod: { podName, podNamespace, podUid } });
 * await cni.teardown(sandboxId);
 * await cni.removeNetns(sandboxId);
 * cni.close();
 */
export class CniNetwork {
  readonly confDir: string;
  readonly binDirs: readonly string[];
  readonly netnsDir: string;
  readonly store: AttachmentStore;
  readonly watcher: ConfigWatcher;
  private readonly timeoutMs: number;
  private readonly logger: Logger;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(options: CniNetworkOptions = {}) {
    this.confDir = options.confDir ?? DEFAULT_CONF_DIR;
    this.binDirs = options.binDirs ?? DEFAULT_BIN_DIRS;
    this.netnsDir = options.netnsDir ?? DEFAULT_NETNS_DIR;
    this.store = new AttachmentStore(options.cacheDir ?? join(defaultPaths().root, "cni"));
    this.timeoutMs = options.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger;
    this.watcher = new ConfigWatcher({
      confDir: this.confDir,
      binDirs: this.binDirs,
      rescanMs: options.rescanMs ?? 5000,
      logger: this.logger,
    });
  }

  /** Loads the config and starts following the conf dir. */
  async start(): Promise<void> {
    await this.watcher.start();
  }

  close(): void {
    this.watcher.close();
  }

  /** The CRI NetworkReady condition and the network's name and plugins. */
  status(): NetworkStatus {
    return this.watcher.status();
  }

  /** Creates (or finds) the pod's pinned netns with `lo` up. */
  createNetns(id: string): Promise<string> {
    return this.serialized(id, () => createNetns(this.netnsDir, id));
  }

  /**
   * The mount point of the pod's netns for a runtime that pins it itself (`unshare
   * --net=PATH`, see netnsMountPoint), and whether one is pinned there already (a retry).
   */
  netnsMountPoint(id: string): Promise<{ path: string; pinned: boolean }> {
    return this.serialized(id, () => netnsMountPoint(this.netnsDir, id));
  }

  /** Unmounts and deletes the pod's netns; idempotent. Call after teardown. */
  removeNetns(id: string): Promise<void> {
    return this.serialized(id, () => removeNetns(netnsPath(this.netnsDir, id)));
  }

  /** The pod's current attachment (from the cache), if it is attached. */
  async attachment(id: string): Promise<Attachment | undefined> {
    const rec = await this.store.get(id);
    if (rec?.state !== "added" || rec.result === undefined) return undefined;
    const result = parseResult(JSON.stringify(rec.result));
    return { id, network: rec.network.name, result, ips: podIps(result, rec.ifName) };
  }

  /**
   * ADD: runs the network's plugins in order, chaining each result as the next one's
   * `prevResult`, and caches the final result before answering. A retry of a completed
   * setup answers the cached attachment; a retry after a failed or interrupted one starts
   * clean (DEL first). On failure the partial ADD is undone with DEL.
   */
  setup(req: SetupRequest): Promise<Attachment> {
    // Awaited only after the record is written: a rejection before then is not unhandled.
    req.netnsReady?.catch(() => {});
    checkId(req.id, "pod sandbox id");
    return this.serialized(req.id, async () => {
      const existing = await this.store.get(req.id);
      if (existing?.state === "added") {
        const done = await this.attachment(req.id);
        if (done) return done;
      }
      if (existing) await this.del(existing, req.signal);
      const config = this.watcher.config();
      if (!config)
        throw new CriError("FailedPrecondition", `cni network not ready: ${this.status().message}`);
      const ifName = req.ifName ?? "eth0";
      checkIfName(ifName);
      const record: AttachmentRecord = {
        version: 1,
        id: req.id,
        state: "adding",
        netnsPath: req.netnsPath,
        ifName,
        pod: req.pod,
        runtimeConfig: req.runtimeConfig ?? {},
        network: networkSnapshot(config),
        updatedAt: "",
      };
      const args = cniArgs(req.id, req.pod); // validates before anything is written
      await this.store.put(record);
      if (req.netnsReady) {
        try {
          await req.netnsReady;
        } catch (err) {
          await this.store.delete(req.id);
          throw err;
        }
      }
      let prev: Record<string, unknown> | undefined;
      try {
        for (const [i, plugin] of record.network.plugins.entries()) {
          if (isNoOp(plugin, i, record.runtimeConfig)) continue;
          const out = await this.exec(record, plugin, "ADD", prev, args, req.signal);
          try {
            prev = parseResult(out).raw;
          } catch (err) {
            throw new CniPluginError(
              String(plugin.type),
              "ADD",
              `cni plugin "${String(plugin.type)}" ADD: ${(err as Error).message}`,
            );
          }
        }
      } catch (err) {
        // containerd tears down a half-done setup at once, so the IP is not held until a Stop.
        await this.del(record, undefined).catch((undo) =>
          this.logger.warn(
            `cni: undo of failed ADD for ${req.id} failed, reconcile will retry: ${(undo as Error).message}`,
          ),
        );
        throw err;
      }
      const result = prev ?? { cniVersion: record.network.cniVersion };
      // Not fsynced: a process crash still finds it (page cache); a host crash that loses it
      // leaves "adding", which reconcile DELs — the pod died with the host anyway.
      await this.store.put({ ...record, state: "added", result }, false);
      const parsed = parseResult(JSON.stringify(result));
      return { id: req.id, network: record.network.name, result: parsed, ips: podIps(parsed, ifName) };
    });
  }

  /**
   * CHECK (CNI 0.4.0+): asks every plugin whether the pod's network is as ADD left it. Answers
   * false when there is nothing to check (not attached, 0.3.x, or `disableCheck`).
   */
  check(id: string, signal?: AbortSignal): Promise<boolean> {
    return this.serialized(id, async () => {
      const rec = await this.store.get(id);
      if (rec?.state !== "added" || rec.network.disableCheck || rec.network.cniVersion.startsWith("0.3."))
        return false;
      const args = cniArgs(id, rec.pod);
      for (const [i, plugin] of rec.network.plugins.entries()) {
        if (isNoOp(plugin, i, rec.runtimeConfig)) continue;
        await this.exec(rec, plugin, "CHECK", rec.result, args, signal);
      }
      return true;
    });
  }

  /**
   * DEL: runs the plugins in reverse order with the cached result as `prevResult`, then drops
   * the record. Safe to retry and to call for a pod never attached (answers false). A netns
   * already gone still gets its DEL (with an empty CNI_NETNS) so IPAM and iptables are released.
   */
  teardown(id: string, signal?: AbortSignal): Promise<boolean> {
    checkId(id, "pod sandbox id");
    return this.serialized(id, async () => {
      const rec = await this.store.get(id);
      if (!rec) return false;
      await this.del(rec, signal);
      return true;
    });
  }

  /**
   * Start-up recovery: tears down every attachment whose ID is not in `liveIds`, and every
   * ADD or DEL a crash interrupted (state `adding`/`deleting`), then removes netns files of
   * pods not in `liveIds`. Failures are reported, not thrown; call again to retry them.
   */
  async reconcile(liveIds: Iterable<string>): Promise<ReconcileReport> {
    const live = new Set(liveIds);
    const report: ReconcileReport = { deleted: [], netnsRemoved: [], failed: [] };
    const records = await this.store.list((file, err) =>
      this.logger.warn(`cni: unreadable attachment record ${file}: ${(err as Error).message}`),
    );
    for (const rec of records) {
      if (live.has(rec.id) && rec.state === "added") continue;
      try {
        await this.serialized(rec.id, async () => {
          const now = await this.store.get(rec.id);
          if (now && !(live.has(now.id) && now.state === "added")) await this.del(now, undefined);
        });
        report.deleted.push(rec.id);
      } catch (err) {
        report.failed.push({ id: rec.id, error: (err as Error).message });
      }
    }
    for (const ns of await listNetns(this.netnsDir)) {
      if (live.has(ns.id)) continue;
      try {
        await this.serialized(ns.id, () => removeNetns(ns.path));
        report.netnsRemoved.push(ns.id);
      } catch (err) {
        report.failed.push({ id: ns.id, error: (err as Error).message });
      }
    }
    return report;
  }

  private async del(rec: AttachmentRecord, signal: AbortSignal | undefined): Promise<void> {
    // Not fsynced: a process crash still finds it; a host crash that loses it leaves "added" or
    // "adding", and both are DELed again (by the pod's Stop/Remove, or reconcile): DEL is idempotent.
    if (rec.state !== "deleting") await this.store.put({ ...rec, state: "deleting" }, false);
    const gone = (await ignoreEnoent(stat(rec.netnsPath))) === undefined;
    const target = gone ? { ...rec, netnsPath: "" } : rec;
    const args = cniArgs(rec.id, rec.pod);
    // Spec 0.4.0+: DEL gets the cached result as prevResult; 0.3.x plugins do not expect one.
    const prev = rec.network.cniVersion.startsWith("0.3.") ? undefined : rec.result;
    for (const [i, plugin] of [...rec.network.plugins.entries()].reverse()) {
      if (isNoOp(plugin, i, rec.runtimeConfig)) continue;
      await this.exec(target, plugin, "DEL", prev, args, signal);
    }
    await this.store.delete(rec.id);
  }

  private async exec(
    rec: AttachmentRecord,
    plugin: Record<string, unknown>,
    command: CniCommand,
    prevResult: Record<string, unknown> | undefined,
    args: string,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const type = String(plugin.type);
    const path = await findPlugin(type, this.binDirs);
    if (!path) {
      throw new CniPluginError(
        type,
        command,
        `cni plugin "${type}" ${command}: not found in ${this.binDirs.join(", ")}`,
        {
          code: "FailedPrecondition",
        },
      );
    }
    const stdin: Record<string, unknown> = {
      ...plugin,
      name: rec.network.name,
      cniVersion: rec.network.cniVersion,
    };
    delete stdin.runtimeConfig;
    delete stdin.prevResult;
    if (prevResult) stdin.prevResult = prevResult;
    const caps = isObject(plugin.capabilities) ? plugin.capabilities : {};
    const runtimeConfig: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rec.runtimeConfig)) {
      if (caps[key] === true && value !== undefined) runtimeConfig[key] = value;
    }
    if (Object.keys(runtimeConfig).length > 0) stdin.runtimeConfig = runtimeConfig;
    return invokePlugin({
      path,
      type,
      command,
      containerId: rec.id,
      netns: rec.netnsPath,
      ifName: rec.ifName,
      args,
      binDirs: this.binDirs,
      stdin,
      timeoutMs: this.timeoutMs,
      ...(signal ? { signal } : {}),
    });
  }

  /** One step at a time per pod: a Stop racing a Remove must not run DEL twice concurrently. */
  private serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }
}

/**
 * True for a plugin whose run would change nothing, so it is not run (a Go process, 3-5 ms,
 * on each of ADD and DEL): the reference `portmap` plugin, chained after another and given no
 * port mappings, answers ADD with its prevResult unchanged and returns from CHECK and DEL at
 * once (its cmdAdd, cmdCheck and cmdDel, from 0.x to the current 1.x, all start with
 * `if len(netConf.RuntimeConfig.PortMaps) == 0`). It gets mappings only through its declared
 * capability (exec() passes no conf-level runtimeConfig), and they are the record's, ADD's
 * own, so DEL skips exactly what ADD skipped. Most pods have no host port.
 */
export function isNoOp(
  plugin: Record<string, unknown>,
  index: number,
  runtimeConfig: RuntimeConfig,
): boolean {
  // First in the list it has no prevResult, and fails ADD: that error stays the plugin's to give.
  if (plugin.type !== "portmap" || index === 0) return false;
  const caps = isObject(plugin.capabilities) ? plugin.capabilities : {};
  return caps.portMappings !== true || (runtimeConfig.portMappings?.length ?? 0) === 0;
}

/** CNI_ARGS as kubelet-era runtimes pass them; `;` and `=` would split a value, so they are refused. */
export function cniArgs(id: string, pod: PodIdentity): string {
  const pairs: Array<[string, string]> = [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", pod.podNamespace],
    ["K8S_POD_NAME", pod.podName],
    ["K8S_POD_INFRA_CONTAINER_ID", id],
    ["K8S_POD_UID", pod.podUid],
  ];
  for (const [k, v] of pairs) {
    if (/[;=\0]/.test(v)) throw CriError.invalidArgument(`${k} "${v}": must not contain ";", "=" or NUL`);
  }
  return pairs.map(([k, v]) => `${k}=${v}`).join(";");
}

/** Linux interface names: 1-15 bytes, no `/`, `:` or blanks, not `.` or `..` (CNI spec). */
function checkIfName(ifName: string): void {
  if (!/^[^/:\s]{1,15}$/.test(ifName) || ifName === "." || ifName === "..") {
    throw CriError.invalidArgument(
      `interface name "${ifName}": expected 1-15 characters without "/", ":" or blanks`,
    );
  }
}
