/**
 * Prometheus metrics for /metrics: CRI requests per RPC and transport, image pulls, container exits
 * and OOM kills, and the sizes of the stores (read from what the stores keep in memory, cached).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** One image pull as the backend ran it (once for identical concurrent pulls, as CRI-O dedups them). */
export interface PullObservation {
  /** "OK", or the CRI code the pull failed with. */
  result: string;
  /** Bytes fetched from registries (manifests, config and layers not already in the content store). */
  bytes: number;
  durationMs: number;
}

/** A container's exit, from its CONTAINER_STOPPED_EVENT. */
export interface ExitObservation {
  exitCode: number;
  /** The CRI reason: Completed, Error, OOMKilled, Unknown… */
  reason: string;
}

/** The stores' sizes, from what they know without walking the disk (the image store caches its walk). */
export interface StoreSizes {
  images: number;
  /** Distinct unpacked layer snapshots the images use. */
  snapshots: number;
  /** ImageFsInfo's used bytes and inodes of the image store's filesystem directory. */
  imageBytes: number;
  imageInodes: number;
}

export interface DaemonMetricsOptions {
  counts: () => { sandboxes: number; containers: number; running: number };
  /** Asked at most once per `storeSizesTtlMs` whatever the scrape rate. */
  storeSizes?: () => Promise<StoreSizes>;
  /** Default 5000 ms. */
  storeSizesTtlMs?: number;
}

export interface DaemonMetrics {
  registry: Registry;
  observe(info: { transport: "http" | "grpc"; rpc: string; status: string; durationMs: number }): void;
  observePull(pull: PullObservation): void;
  observeExit(exit: ExitObservation): void;
  render(): Promise<{ contentType: string; body: string }>;
}

/**
 * Exit codes in classes, so that the series stay few: 0, 1-125 (the program's own failure), 126 and
 * 127 (the shell's "cannot execute" and "not found"), 128+N (killed by signal N) and anything else.
 */
export function exitClass(code: number): string {
  if (code === 0) return "0";
  if (code >= 1 && code <= 125) return "1-125";
  if (code === 126 || code === 127) return String(code);
  if (code >= 128 && code <= 255) return "signal";
  return "other";
}

export function createDaemonMetrics(options: DaemonMetricsOptions): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "servin_" });
  const registers = [registry];
  const requests = new Counter({
    name: "servin_cri_requests_total",
    help: "CRI requests served, by transport, RPC and status",
    labelNames: ["transport", "rpc", "status"],
    registers,
  });
  const duration = new Histogram({
    name: "servin_cri_request_duration_seconds",
    help: "CRI request latency, by transport and RPC",
    labelNames: ["transport", "rpc"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers,
  });
  new Gauge({
    name: "servin_objects",
    help: "Pod sandboxes and containers known to the runtime",
    labelNames: ["kind"],
    registers,
    collect() {
      const c = options.counts();
      this.set({ kind: "sandbox" }, c.sandboxes);
      this.set({ kind: "container" }, c.containers);
      this.set({ kind: "running_container" }, c.running);
    },
  });
  const pulls = new Counter({
    name: "servin_image_pulls_total",
    help: "Image pulls run, by result (OK or the CRI error code); identical concurrent pulls count once",
    labelNames: ["result"],
    registers,
  });
  const pullBytes = new Counter({
    name: "servin_image_pull_bytes_total",
    help: "Bytes fetched from registries by image pulls (blobs already stored are not fetched)",
    registers,
  });
  const pullDuration = new Histogram({
    name: "servin_image_pull_duration_seconds",
    help: "Image pull time (download, verify, unpack), by result",
    labelNames: ["result"],
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    registers,
  });
  const exits = new Counter({
    name: "servin_container_exits_total",
    help: "Container exits, by CRI reason and exit code class (0, 1-125, 126, 127, signal, other)",
    labelNames: ["reason", "exit_code"],
    registers,
  });
  const oomKills = new Counter({
    name: "servin_container_oom_kills_total",
    help: "Containers killed by the kernel's OOM killer (reason OOMKilled)",
    registers,
  });

  if (options.storeSizes) {
    const read = options.storeSizes;
    const ttl = options.storeSizesTtlMs ?? 5000;
    let cached: { at: number; sizes: Promise<StoreSizes> } | undefined;
    const sizes = (): Promise<StoreSizes> => {
      const now = performance.now();
      if (!cached || now - cached.at > ttl) {
        const pending = read();
        cached = { at: now, sizes: pending };
        // A failed read is not cached: the next scrape asks again.
        pending.catch(() => {
          if (cached?.sizes === pending) cached = undefined;
        });
      }
      return cached.sizes;
    };
    const gauge = (name: string, help: string, pick: (s: StoreSizes) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          // A store that cannot answer must not fail the whole scrape: the gauge keeps its last value.
          const current = await sizes().catch(() => undefined);
          if (current) this.set(pick(current));
        },
      });
    gauge("servin_images", "Images in the image store", (s) => s.images);
    gauge("servin_image_snapshots", "Unpacked layer snapshots the stored images use", (s) => s.snapshots);
    gauge(
      "servin_image_store_bytes",
      "Bytes the image store takes on disk (ImageFsInfo)",
      (s) => s.imageBytes,
    );
    gauge("servin_image_store_inodes", "Inodes the image store takes (ImageFsInfo)", (s) => s.imageInodes);
  }

  return {
    registry,
    observe({ transport, rpc, status, durationMs }) {
      requests.inc({ transport, rpc, status });
      duration.observe({ transport, rpc }, durationMs / 1000);
    },
    observePull({ result, bytes, durationMs }) {
      pulls.inc({ result });
      if (bytes > 0) pullBytes.inc(bytes);
      pullDuration.observe({ result }, durationMs / 1000);
    },
    observeExit({ exitCode, reason }) {
      exits.inc({ reason: reason || "Unknown", exit_code: exitClass(exitCode) });
      if (reason === "OOMKilled") oomKills.inc();
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
