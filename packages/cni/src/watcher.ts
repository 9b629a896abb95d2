/**
 * Follows the CNI conf dir while servin runs (containerd's CNI config watcher): fs.watch for
 * prompt updates plus a periodic re-scan, because inotify misses events on some file systems
 * and cannot watch a directory that does not exist yet. NetworkReady follows the config.
 */
import { type FSWatcher, watch } from "node:fs";
import { type Logger, silentLogger } from "@servin/node-kit";
import {
  DEFAULT_BIN_DIRS,
  DEFAULT_CONF_DIR,
  loadNetworkConfig,
  missingPlugins,
  type NetworkConfig,
} from "./config.js";

/** The CRI `NetworkReady` condition, with what kubelet and `servin cri status` show. */
export interface NetworkStatus {
  ready: boolean;
  /** CRI reason when not ready: `NetworkPluginNotReady` (kubelet's and containerd's word). */
  reason: string;
  message: string;
  /** The network in use, when a config loaded. */
  network?: { name: string; cniVersion: string; file: string; plugins: string[] };
}

export interface ConfigWatcherOptions {
  confDir?: string;
  binDirs?: readonly string[];
  /** Re-scan period; default 5000 ms. */
  rescanMs?: number;
  logger?: Logger;
}

/**
 * Keeps the current network config of a conf dir and its NetworkReady status.
 *
 * @example
 * const w = new ConfigWatcher({ confDir: "/etc/cni/net.d" });
 * await w.start();
 * w.onChange((s) => console.log(s.ready, s.network?.name));
 * w.status(); // { ready: true, reason: "", message: "", network: { name: "critest", plugins: ["bridge", "portmap"], … } }
 * w.close();
 */
export class ConfigWatcher {
  readonly confDir: string;
  readonly binDirs: readonly string[];
  private readonly rescanMs: number;
  private readonly logger: Logger;
  private current: { config?: NetworkConfig; status: NetworkStatus; key: string } = {
    status: { ready: false, reason: "NetworkPluginNotReady", message: "cni config not loaded yet" },
    key: "",
  };
  private readonly listeners = new Set<(status: NetworkStatus) => void>();
  private fsWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private closed = false;

  constructor(options: ConfigWatcherOptions = {}) {
    this.confDir = options.confDir ?? DEFAULT_CONF_DIR;
    this.binDirs = options.binDirs ?? DEFAULT_BIN_DIRS;
    this.rescanMs = options.rescanMs ?? 5000;
    this.logger = options.logger ?? silentLogger;
  }

  /** Loads the config once, then follows the directory until `close()`. */
  async start(): Promise<void> {
    await this.rescan();
    this.timer = setInterval(() => void this.rescan(), this.rescanMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
  }

  /** NetworkReady as of the last scan. */
  status(): NetworkStatus {
    return this.current.status;
  }

  /** The usable network config, or undefined when not ready. */
  config(): NetworkConfig | undefined {
    return this.current.status.ready ? this.current.config : undefined;
  }

  /** Calls `listener` after each scan that changed the config or its status; answers the unsubscribe function. */
  onChange(listener: (status: NetworkStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Scans now (concurrent calls coalesce into one scan plus at most one more). */
  async rescan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.again = false;
        await this.scanOnce();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    this.ensureFsWatch();
    let next: { config?: NetworkConfig; status: NetworkStatus };
    try {
      const config = await loadNetworkConfig(this.confDir);
      if (config === undefined) {
        next = {
          status: {
            ready: false,
            reason: "NetworkPluginNotReady",
            message: `no cni config found in ${this.confDir}`,
          },
        };
      } else {
        const network = {
          name: config.name,
          cniVersion: config.cniVersion,
          file: config.file,
          plugins: config.plugins.map((p) => p.type),
        };
        const missing = await missingPlugins(config, this.binDirs);
        next =
          missing.length === 0
            ? { config, status: { ready: true, reason: "", message: "", network } }
            : {
                config,
                status: {
                  ready: false,
                  reason: "NetworkPluginNotReady",
                  message: `cni config ${config.file}: plugin ${missing.map((m) => `"${m}"`).join(", ")} not found in ${this.binDirs.join(", ")}`,
                  network,
                },
              };
      }
    } catch (err) {
      next = { status: { ready: false, reason: "NetworkPluginNotReady", message: (err as Error).message } };
    }
    const key = JSON.stringify([next.status, next.config?.plugins.map((p) => p.raw)]);
    if (key === this.current.key || this.closed) return;
    this.current = { ...next, key };
    this.logger.info(
      `cni: network ${next.status.ready ? `ready (${next.status.network?.name})` : `not ready: ${next.status.message}`}`,
    );
    for (const l of this.listeners) {
      try {
        l(next.status);
      } catch (err) {
        this.logger.warn(`cni: config change listener failed: ${(err as Error).message}`);
      }
    }
  }

  /** Watches the conf dir once it exists; a removed directory drops the watcher and the periodic scan takes over. */
  private ensureFsWatch(): void {
    if (this.fsWatcher || this.closed) return;
    try {
      const w = watch(this.confDir, { persistent: false }, () => {
        clearTimeout(this.debounce);
        // Editors write a file in several steps; one scan after they settle.
        this.debounce = setTimeout(() => void this.rescan(), 50);
      });
      w.on("error", () => {
        w.close();
        if (this.fsWatcher === w) this.fsWatcher = undefined;
      });
      this.fsWatcher = w;
    } catch {
      // the directory does not exist (yet): the periodic scan will see it appear
    }
  }
}
