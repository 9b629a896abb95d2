import { describe, expect, it } from "vitest";
import { createDaemonMetrics, exitClass, type StoreSizes } from "./metrics.js";

const counts = () => ({ sandboxes: 1, containers: 2, running: 1 });
const value = (text: string, series: string) =>
  Number(
    text
      .split("\n")
      .find((l) => l.startsWith(`${series} `))
      ?.slice(series.length + 1),
  );

describe("daemon metrics", () => {
  it("reads the store sizes at most once per TTL, whatever the scrape rate", async () => {
    let reads = 0;
    const metrics = createDaemonMetrics({
      counts,
      storeSizes: async (): Promise<StoreSizes> => {
        reads++;
        return { images: 3, snapshots: 5, imageBytes: 1234, imageInodes: 56 };
      },
      storeSizesTtlMs: 60_000,
    });
    for (let i = 0; i < 10; i++) await metrics.render();
    expect(reads).toBe(1);
    const { body } = await metrics.render();
    expect(value(body, "servin_images")).toBe(3);
    expect(value(body, "servin_image_snapshots")).toBe(5);
    expect(value(body, "servin_image_store_bytes")).toBe(1234);
    expect(value(body, "servin_image_store_inodes")).toBe(56);
    expect(value(body, 'servin_objects{kind="container"}')).toBe(2);
  });

  it("keeps the scrape answering when the stores cannot, and asks again next time", async () => {
    let reads = 0;
    const metrics = createDaemonMetrics({
      counts,
      storeSizes: async () => {
        reads++;
        if (reads === 1) throw new Error("disk went away");
        return { images: 1, snapshots: 1, imageBytes: 1, imageInodes: 1 };
      },
      storeSizesTtlMs: 60_000,
    });
    expect((await metrics.render()).body).toContain("servin_cri_requests_total");
    expect(value((await metrics.render()).body, "servin_images")).toBe(1);
    expect(reads).toBe(2);
  });

  it("counts pulls, bytes, exits by reason and class, and OOM kills", async () => {
    const metrics = createDaemonMetrics({ counts });
    metrics.observePull({ result: "OK", bytes: 1000, durationMs: 1500 });
    metrics.observePull({ result: "NotFound", bytes: 0, durationMs: 20 });
    metrics.observeExit({ exitCode: 0, reason: "Completed" });
    metrics.observeExit({ exitCode: 137, reason: "OOMKilled" });
    metrics.observeExit({ exitCode: 127, reason: "" });
    const { body } = await metrics.render();
    expect(value(body, 'servin_image_pulls_total{result="OK"}')).toBe(1);
    expect(value(body, 'servin_image_pulls_total{result="NotFound"}')).toBe(1);
    expect(value(body, "servin_image_pull_bytes_total")).toBe(1000);
    expect(value(body, 'servin_image_pull_duration_seconds_sum{result="OK"}')).toBe(1.5);
    expect(value(body, 'servin_container_exits_total{reason="Completed",exit_code="0"}')).toBe(1);
    expect(value(body, 'servin_container_exits_total{reason="OOMKilled",exit_code="signal"}')).toBe(1);
    expect(value(body, 'servin_container_exits_total{reason="Unknown",exit_code="127"}')).toBe(1);
    expect(value(body, "servin_container_oom_kills_total")).toBe(1);
    expect([0, 1, 125, 126, 127, 128, 255, 256, -1].map(exitClass)).toEqual([
      "0",
      "1-125",
      "1-125",
      "126",
      "127",
      "signal",
      "signal",
      "other",
      "other",
    ]);
  });
});

describe("daemon metrics exposition", () => {
  it("writes cumulative histogram buckets, escaped label values and the process series", async () => {
    const metrics = createDaemonMetrics({ counts });
    metrics.observe({ transport: "grpc", rpc: "version", status: "OK", durationMs: 3 });
    metrics.observe({ transport: "grpc", rpc: "version", status: "OK", durationMs: 40 });
    metrics.observe({ transport: "http", rpc: 'a"b\\c\nd', status: "OK", durationMs: 300_000 });
    const { contentType, body } = await metrics.render();
    expect(contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    const bucket = (le: string) =>
      value(body, `servin_cri_request_duration_seconds_bucket{le="${le}",transport="grpc",rpc="version"}`);
    expect([bucket("0.001"), bucket("0.005"), bucket("0.05"), bucket("120"), bucket("+Inf")]).toEqual([
      0, 1, 2, 2, 2,
    ]);
    expect(value(body, 'servin_cri_request_duration_seconds_count{transport="grpc",rpc="version"}')).toBe(2);
    expect(
      value(body, 'servin_cri_request_duration_seconds_sum{transport="grpc",rpc="version"}'),
    ).toBeCloseTo(0.043);
    // Beyond the last bound only +Inf counts it.
    const odd = 'transport="http",rpc="a\\"b\\\\c\\nd"';
    expect(value(body, `servin_cri_request_duration_seconds_bucket{le="120",${odd}}`)).toBe(0);
    expect(value(body, `servin_cri_request_duration_seconds_bucket{le="+Inf",${odd}}`)).toBe(1);
    expect(value(body, `servin_cri_requests_total{${odd},status="OK"}`)).toBe(1);
    // prom-client's process and Node series, loaded at the first scrape.
    expect(value(body, "servin_process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(body).toContain("# TYPE servin_nodejs_heap_size_used_bytes gauge");
    // Every family once, each with HELP and TYPE.
    const types = body.split("\n").filter((l) => l.startsWith("# TYPE "));
    expect(new Set(types).size).toBe(types.length);
  });
});
