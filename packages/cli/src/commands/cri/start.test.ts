import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../../config/config.js";
import { isLoopbackHostPort, resolveStartConfig } from "./start.js";

describe("resolveStartConfig: defaults, then the file, then flags", () => {
  let dir: string;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "servin-start-config-"));
    file = join(dir, "config.toml");
    await writeFile(
      file,
      `[server]
host = "127.0.0.2"
port = 9090
grpc_socket = "/file/servin.sock"
grpc_tcp = "127.0.0.1:9091"
token_file = "/file/token"
[storage]
root = "/file/root"
state_dir = "/file/state"
[runtime]
backend = "memory"
[images]
backend = "memory"
[network]
conf_dir = "/file/net.d"
bin_dirs = ["/file/bin"]
`,
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("takes the file over the defaults", async () => {
    expect(await resolveStartConfig({ config: file })).toEqual({
      ...defaultConfig(),
      host: "127.0.0.2",
      port: 9090,
      grpcSocket: "/file/servin.sock",
      grpcTcp: "127.0.0.1:9091",
      tokenFile: "/file/token",
      root: "/file/root",
      stateDir: "/file/state",
      backend: "memory",
      imageBackend: "memory",
      cniConfDir: "/file/net.d",
      cniBinDirs: ["/file/bin"],
    });
  });

  it("takes every flag over the file", async () => {
    const c = await resolveStartConfig({
      config: file,
      host: "::1",
      port: "0",
      verbose: true,
      backend: "oci",
      "image-backend": "disk",
      root: "/flag/root",
      "state-dir": "/flag/state",
      "token-file": "/flag/token",
      "grpc-socket": "/flag/servin.sock",
      "grpc-tcp": "[::1]:9092",
      "cni-conf-dir": "/flag/net.d",
      "cni-bin-dir": "/flag/bin, /usr/lib/cni",
    });
    expect(c).toMatchObject({
      host: "::1",
      port: 0,
      verbose: true,
      backend: "oci",
      imageBackend: "disk",
      root: "/flag/root",
      stateDir: "/flag/state",
      tokenFile: "/flag/token",
      grpcSocket: "/flag/servin.sock",
      grpcTcp: "[::1]:9092",
      cniConfDir: "/flag/net.d",
      cniBinDirs: ["/flag/bin", "/usr/lib/cni"],
    });
  });

  it("turns gRPC off with --no-grpc, whatever the file or --grpc-socket say", async () => {
    expect((await resolveStartConfig({ config: file, grpc: false })).grpcSocket).toBe("");
    expect(
      (await resolveStartConfig({ config: file, grpc: false, "grpc-socket": "/x.sock" })).grpcSocket,
    ).toBe("");
    // citty's default for --grpc is true: that alone keeps the file's socket.
    expect((await resolveStartConfig({ config: file, grpc: true })).grpcSocket).toBe("/file/servin.sock");
  });

  it("takes the log level and format from flag, then SERVIN_LOG_*, then [log], then info/text", async () => {
    const logFile = join(dir, "log.toml");
    await writeFile(logFile, `[log]\nlevel = "warn"\nformat = "json"\n`);
    const none = {};
    expect(await resolveStartConfig({ config: file }, none)).toMatchObject({
      logLevel: "info",
      logFormat: "text",
    });
    expect(await resolveStartConfig({ config: logFile }, none)).toMatchObject({
      logLevel: "warn",
      logFormat: "json",
    });
    const env = { SERVIN_LOG_LEVEL: "error", SERVIN_LOG_FORMAT: "text" };
    expect(await resolveStartConfig({ config: logFile }, env)).toMatchObject({
      logLevel: "error",
      logFormat: "text",
    });
    expect(
      await resolveStartConfig({ config: logFile, "log-level": "debug", "log-format": "json" }, env),
    ).toMatchObject({ logLevel: "debug", logFormat: "json" });
    // --verbose stays what it was: debug; an explicit --log-level says more.
    expect(await resolveStartConfig({ config: logFile, verbose: true }, env)).toMatchObject({
      logLevel: "debug",
    });
    expect(
      await resolveStartConfig({ config: logFile, verbose: true, "log-level": "warn" }, env),
    ).toMatchObject({ logLevel: "warn" });
    await expect(resolveStartConfig({ config: file, "log-level": "loud" }, none)).rejects.toThrow(
      '--log-level: expected one of debug, info, warn, error, got "loud"',
    );
    await expect(resolveStartConfig({ config: file }, { SERVIN_LOG_FORMAT: "xml" })).rejects.toThrow(
      'SERVIN_LOG_FORMAT: expected one of text, json, got "xml"',
    );
  });

  it("takes enable_pod_events from --enable-pod-events / --no-enable-pod-events, then [runtime], then off", async () => {
    const events = join(dir, "events.toml");
    await writeFile(events, `[runtime]\nenable_pod_events = true\n`);
    expect((await resolveStartConfig({ config: file })).enablePodEvents).toBe(false);
    expect((await resolveStartConfig({ config: events })).enablePodEvents).toBe(true);
    expect((await resolveStartConfig({ config: file, "enable-pod-events": true })).enablePodEvents).toBe(
      true,
    );
    expect((await resolveStartConfig({ config: events, "enable-pod-events": false })).enablePodEvents).toBe(
      false,
    );
  });

  it("keeps the file's value where a flag is absent", async () => {
    const c = await resolveStartConfig({ config: file, port: "8081" });
    expect(c.port).toBe(8081);
    expect(c.host).toBe("127.0.0.2");
    expect(c.backend).toBe("memory");
  });

  it("rejects bad flag values with the flag's name", async () => {
    await expect(resolveStartConfig({ config: file, port: "eighty" })).rejects.toThrow(
      /--port: expected an integer 0-65535, got "eighty"/,
    );
    await expect(resolveStartConfig({ config: file, backend: "docker" })).rejects.toThrow(
      /backend: expected "auto", "memory" or "oci", got "docker"/,
    );
    await expect(resolveStartConfig({ config: file, "image-backend": "s3" })).rejects.toThrow(
      /image backend: expected "memory" or "disk", got "s3"/,
    );
    await expect(resolveStartConfig({ config: file, host: "" })).rejects.toThrow(
      /--host: expected an address/,
    );
    await expect(resolveStartConfig({ config: file, "cni-bin-dir": " , " })).rejects.toThrow(
      /--cni-bin-dir: expected one or more directories/,
    );
  });

  it("fails on an explicit config file that does not exist, and on a bad one, before any flag", async () => {
    await expect(resolveStartConfig({ config: join(dir, "absent.toml"), port: "1" })).rejects.toThrow(
      /cannot read config file/,
    );
    const bad = join(dir, "bad.toml");
    await writeFile(bad, `[server]\nport = "x"\n`);
    await expect(resolveStartConfig({ config: bad, port: "1" })).rejects.toThrow(/server\.port/);
  });
});

describe("isLoopbackHostPort", () => {
  it.each([
    ["127.0.0.1:9091", true],
    ["127.1.2.3:1", true],
    ["[::1]:9091", true],
    ["localhost:9091", true],
    ["0.0.0.0:9091", false],
    ["10.0.0.1:9091", false],
    ["[::]:9091", false],
    ["example.com:9091", false],
  ])("%s → %s", (address, loopback) => {
    expect(isLoopbackHostPort(address)).toBe(loopback);
  });
});
