/**
 * Prometheus metrics for /metrics: CRI requests per RPC and transport, image pulls, container exits
 * and OOM kills, and the sizes of the stores (read from what the stores keep in memory, cached).
 *
 * Servin's own series are plain counters and bucket arrays written out in the text exposition format
 * here (counted from the start, a few objects per series); prom-client, for the process and Node
 * series (`servin_process_*`, `servin_nodejs_*`), is loaded at the first scrape only: a daemon that
 * is never scraped never holds it (issue 13, idle memory).
 */
import type { Registry } from "prom-client";

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

/** The text exposition format's content type (what prom-client's registry answers with). */
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeLabel = (value: string) =>
  value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const labelText = (names: readonly string[], values: readonly string[]) =>
  names.map((name, i) => `${name}="${escapeLabel(values[i] ?? "")}"`).join(",");
const sampleValue = (n: number) => (Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : String(n));

interface Series {
  render(lines: string[]): void;
}

interface CounterEntry {
  labels: string[];
  value: number;
}

interface HistogramEntry {
  labels: string[];
  buckets: number[];
  sum: number;
  count: number;
}

/** A counter by label values (one entry per distinct combination, as prom-client keeps them). */
class CounterSeries implements Series {
  readonly #values = new Map<string, CounterEntry>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {}
  inc(labels: string[], by = 1): void {
    this.entry(labels).value += by;
  }
  /** The entry of one label combination, made at 0 on first use (a caller may keep it and add to `value`). */
  entry(labels: string[]): CounterEntry {
    const key = labels.join("\u0000");
    let entry = this.#values.get(key);
    if (!entry) {
      entry = { labels, value: 0 };
      this.#values.set(key, entry);
    }
    return entry;
  }
  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    // An unlabelled counter shows 0 before its first increment (prom-client's output).
    if (this.labelNames.length === 0 && this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const { labels, value } of this.#values.values()) {
      const text = labelText(this.labelNames, labels);
      lines.push(`${this.name}${text ? `{${text}}` : ""} ${sampleValue(value)}`);
    }
  }
}

/** A histogram by label values: cumulative buckets, sum and count written out at render. */
class HistogramSeries implements Series {
  readonly #values = new Map<string, HistogramEntry>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly upperBounds: readonly number[],
  ) {}
  observe(labels: string[], value: number): void {
    this.add(this.entry(labels), value);
  }
  /** The entry of one label combination, made empty on first use (a caller may keep it for add()). */
  entry(labels: string[]): HistogramEntry {
    const key = labels.join("\u0000");
    let entry = this.#values.get(key);
    if (!entry) {
      entry = { labels, buckets: new Array<number>(this.upperBounds.length).fill(0), sum: 0, count: 0 };
      this.#values.set(key, entry);
    }
    return entry;
  }
  /** One observation into an entry of this series. */
  add(entry: HistogramEntry, value: number): void {
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        entry.buckets[i] = (entry.buckets[i] ?? 0) + 1;
        break;
      }
    }
    entry.sum += value;
    entry.count++;
  }
  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const { labels, buckets, sum, count } of this.#values.values()) {
      const text = labelText(this.labelNames, labels);
      const rest = text ? `,${text}` : "";
      let cumulative = 0;
      this.upperBounds.forEach((bound, i) => {
        cumulative += buckets[i] ?? 0;
        lines.push(`${this.name}_bucket{le="${bound}"${rest}} ${cumulative}`);
      });
      lines.push(`${this.name}_bucket{le="+Inf"${rest}} ${count}`);
      lines.push(`${this.name}_sum${text ? `{${text}}` : ""} ${sampleValue(sum)}`);
      lines.push(`${this.name}_count${text ? `{${text}}` : ""} ${count}`);
    }
  }
}

/** A gauge whose samples are read at render. */
class GaugeSeries implements Series {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly samples: () => Array<[labels: string, value: number]>,
  ) {}
  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const [labels, value] of this.samples())
      lines.push(`${this.name}${labels ? `{${labels}}` : ""} ${sampleValue(value)}`);
  }
}

export function createDaemonMetrics(options: DaemonMetricsOptions): DaemonMetrics {
  const series: Series[] = [];
  const add = <T extends Series>(s: T): T => {
    series.push(s);
    return s;
  };
  const requests = add(
    new CounterSeries("servin_cri_requests_total", "CRI requests served, by transport, RPC and status", [
      "transport",
      "rpc",
      "status",
    ]),
  );
  const duration = add(
    new HistogramSeries(
      "servin_cri_request_duration_seconds",
      "CRI request latency, by transport and RPC",
      ["transport", "rpc"],
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    ),
  );
  // The two entries of each (transport, rpc, status), found by three lookups of strings the caller
  // already has: no label array and no joined key per call.
  const calls = new Map<
    string,
    Map<string, Map<string, { requests: CounterEntry; duration: HistogramEntry }>>
  >();
  const callEntries = (transport: string, rpc: string, status: string) => {
    let byRpc = calls.get(transport);
    if (!byRpc) {
      byRpc = new Map();
      calls.set(transport, byRpc);
    }
    let byStatus = byRpc.get(rpc);
    if (!byStatus) {
      byStatus = new Map();
      byRpc.set(rpc, byStatus);
    }
    let entries = byStatus.get(status);
    if (!entries) {
      entries = {
        requests: requests.entry([transport, rpc, status]),
        duration: duration.entry([transport, rpc]),
      };
      byStatus.set(status, entries);
    }
    return entries;
  };
  add(
    new GaugeSeries("servin_objects", "Pod sandboxes and containers known to the runtime", () => {
      const c = options.counts();
      return [
        ['kind="sandbox"', c.sandboxes],
        ['kind="container"', c.containers],
        ['kind="running_container"', c.running],
      ];
    }),
  );
  const pulls = add(
    new CounterSeries(
      "servin_image_pulls_total",
      "Image pulls run, by result (OK or the CRI error code); identical concurrent pulls count once",
      ["result"],
    ),
  );
  const pullBytes = add(
    new CounterSeries(
      "servin_image_pull_bytes_total",
      "Bytes fetched from registries by image pulls (blobs already stored are not fetched)",
    ),
  );
  const pullDuration = add(
    new HistogramSeries(
      "servin_image_pull_duration_seconds",
      "Image pull time (download, verify, unpack), by result",
      ["result"],
      [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    ),
  );
  const exits = add(
    new CounterSeries(
      "servin_container_exits_total",
      "Container exits, by CRI reason and exit code class (0, 1-125, 126, 127, signal, other)",
      ["reason", "exit_code"],
    ),
  );
  const oomKills = add(
    new CounterSeries(
      "servin_container_oom_kills_total",
      "Containers killed by the kernel's OOM killer (reason OOMKilled)",
    ),
  );

  // The store sizes, read before rendering (asynchronous), at most once per TTL.
  let readSizes: (() => Promise<void>) | undefined;
  if (options.storeSizes) {
    const read = options.storeSizes;
    const ttl = options.storeSizesTtlMs ?? 5000;
    let cached: { at: number; sizes: Promise<StoreSizes> } | undefined;
    // A store that cannot answer must not fail the whole scrape: the gauges keep their last values.
    let last: StoreSizes | undefined;
    readSizes = async () => {
      const now = performance.now();
      if (!cached || now - cached.at > ttl) {
        const pending = read();
        cached = { at: now, sizes: pending };
        // A failed read is not cached: the next scrape asks again.
        pending.catch(() => {
          if (cached?.sizes === pending) cached = undefined;
        });
      }
      last = (await cached.sizes.catch(() => undefined)) ?? last;
    };
    const gauge = (name: string, help: string, pick: (s: StoreSizes) => number) =>
      add(new GaugeSeries(name, help, () => (last ? [["", pick(last)]] : [])));
    gauge("servin_images", "Images in the image store", (s) => s.images);
    gauge("servin_image_snapshots", "Unpacked layer snapshots the stored images use", (s) => s.snapshots);
    gauge(
      "servin_image_store_bytes",
      "Bytes the image store takes on disk (ImageFsInfo)",
      (s) => s.imageBytes,
    );
    gauge("servin_image_store_inodes", "Inodes the image store takes (ImageFsInfo)", (s) => s.imageInodes);
  }

  // prom-client's default metrics (process CPU, memory, fds, event loop lag, GC, heap), from the first
  // scrape on: the process totals (CPU seconds, start time) cover the whole life of the process, the
  // GC and event-loop-lag histograms what happened since the first scrape.
  let defaults: Promise<Registry> | undefined;
  const defaultRegistry = () => {
    defaults ??= import("prom-client").then(({ Registry, collectDefaultMetrics }) => {
      const registry = new Registry();
      collectDefaultMetrics({ register: registry, prefix: "servin_" });
      return registry;
    });
    defaults.catch(() => {
      defaults = undefined;
    });
    return defaults;
  };

  return {
    observe({ transport, rpc, status, durationMs }) {
      const entries = callEntries(transport, rpc, status);
      entries.requests.value++;
      duration.add(entries.duration, durationMs / 1000);
    },
    observePull({ result, bytes, durationMs }) {
      pulls.inc([result]);
      if (bytes > 0) pullBytes.inc([], bytes);
      pullDuration.observe([result], durationMs / 1000);
    },
    observeExit({ exitCode, reason }) {
      exits.inc([reason || "Unknown", exitClass(exitCode)]);
      if (reason === "OOMKilled") oomKills.inc([]);
    },
    async render() {
      const [registry] = await Promise.all([defaultRegistry(), readSizes?.()]);
      const lines: string[] = [];
      for (const s of series) s.render(lines);
      return { contentType: CONTENT_TYPE, body: `${await registry.metrics()}\n${lines.join("\n")}\n` };
    },
  };
}
