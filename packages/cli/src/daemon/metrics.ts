/** Prometheus metrics for /metrics: request counts and latencies per RPC and transport, plus object gauges. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface DaemonMetrics {
  registry: Registry;
  observe(info: { transport: "http" | "grpc"; rpc: string; status: string; durationMs: number }): void;
  render(): Promise<{ contentType: string; body: string }>;
}

export function createDaemonMetrics(
  counts: () => { sandboxes: number; containers: number; running: number },
): DaemonMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "servin_" });
  const requests = new Counter({
    name: "servin_cri_requests_total",
    help: "CRI requests served, by transport, RPC and status",
    labelNames: ["transport", "rpc", "status"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "servin_cri_request_duration_seconds",
    help: "CRI request latency, by transport and RPC",
    labelNames: ["transport", "rpc"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  const objects = new Gauge({
    name: "servin_objects",
    help: "Pod sandboxes and containers known to the runtime",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      const c = counts();
      this.set({ kind: "sandbox" }, c.sandboxes);
      this.set({ kind: "container" }, c.containers);
      this.set({ kind: "running_container" }, c.running);
    },
  });
  void objects;
  return {
    registry,
    observe({ transport, rpc, status, durationMs }) {
      requests.inc({ transport, rpc, status });
      duration.observe({ transport, rpc }, durationMs / 1000);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
