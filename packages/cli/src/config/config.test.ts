import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultPaths } from "@servin/node-kit";
import { afterAll, describe, expect, it } from "vitest";
import { toRegistryConfig } from "../daemon/daemon.js";
import {
  ConfigError,
  defaultConfig,
  loadConfigFile,
  parseBackend,
  parseDurationSeconds,
  parseImageBackend,
  parsePort,
  parseStreamingAddress,
} from "./config.js";

describe("[images] limits and upstream fallback keys", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  const load = async (toml: string) => {
    const dir = await mkdtemp(join(tmpdir(), "servin-config-"));
    dirs.push(dir);
    await writeFile(join(dir, "config.toml"), toml);
    return loadConfigFile(join(dir, "config.toml"), true);
  };

  it("reads the decompression caps and the fallback switches into the image store's options", async () => {
    const c = {
      ...defaultConfig(),
      ...(await load(`
[images]
upstream_fallback = false
max_layer_expanded_bytes = 1073741824
max_layer_expansion_ratio = 50
max_image_expanded_bytes = 4294967296
[registries."docker.io"]
mirrors = ["http://127.0.0.1:5000"]
upstream_fallback = true
[registries."quay.io"]
mirrors = ["http://127.0.0.1:5001"]
`)),
    };
    expect(c.imageLimits).toEqual({
      maxLayerBytes: 1073741824,
      maxLayerExpansion: 50,
      maxImageBytes: 4294967296,
    });
    const reg = toRegistryConfig(c);
    expect(reg.upstreamFallback).toBe(false);
    expect(reg.upstreamFallbackFor).toEqual({ "docker.io": true });
    expect(reg.mirrors).toEqual({
      "docker.io": ["http://127.0.0.1:5000"],
      "quay.io": ["http://127.0.0.1:5001"],
    });
  });

  it("defaults to falling back, as containerd, with the store's own caps", () => {
    const c = defaultConfig();
    expect(c.imageLimits).toEqual({});
    expect(toRegistryConfig(c).upstreamFallback).toBe(true);
  });

  it("rejects wrong types with the key's name", async () => {
    await expect(load(`[images]\nupstream_fallback = "no"\n`)).rejects.toThrow(
      /images\.upstream_fallback: expected true or false/,
    );
    await expect(load(`[images]\nmax_layer_expansion_ratio = -1\n`)).rejects.toThrow(
      /images\.max_layer_expansion_ratio: expected a non-negative integer/,
    );
    await expect(load(`[registries."docker.io"]\nupstream_fallback = 1\n`)).rejects.toThrow(
      /registries\."docker\.io"\.upstream_fallback: expected true or false/,
    );
  });
});

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
/** Writes `toml` to a fresh file and loads it as an explicit --config. */
const loadToml = async (toml: string) => {
  const dir = await mkdtemp(join(tmpdir(), "servin-config-"));
  dirs.push(dir);
  const path = join(dir, "config.toml");
  await writeFile(path, toml);
  return loadConfigFile(path, true);
};

describe("defaults", () => {
  it("listens on loopback 8080 with the auto runtime and the disk image store", () => {
    const paths = defaultPaths();
    expect(defaultConfig()).toEqual({
      host: "127.0.0.1",
      port: 8080,
      verbose: false,
      logLevel: "info",
      logFormat: "text",
      grpcSocket: paths.grpcSocket,
      grpcTcp: "",
      tokenFile: "",
      allowedUids: [],
      allowedGids: [],
      root: paths.root,
      stateDir: paths.stateDir,
      backend: "auto",
      imageBackend: "disk",
      runtimes: {},
      defaultRuntime: "runc",
      conmonPath: "",
      pausePath: "",
      cgroupParent: "servin",
      enablePodEvents: false,
      registries: {},
      authFile: "",
      upstreamFallback: true,
      imageLimits: {},
      cniConfDir: "/etc/cni/net.d",
      cniBinDirs: ["/opt/cni/bin", "/usr/lib/cni"],
      cniCacheDir: "",
      streamingAddress: "127.0.0.1",
      streamingPort: 0,
      streamingIdleTimeout: 14400,
    });
  });

  it("gives a fresh object each time (callers mutate it)", () => {
    const a = defaultConfig();
    a.runtimes.crun = { path: "/x" };
    a.allowedUids.push(1);
    expect(defaultConfig().runtimes).toEqual({});
    expect(defaultConfig().allowedUids).toEqual([]);
  });
});

describe("loadConfigFile", () => {
  it("reads every key of the file format", async () => {
    expect(
      await loadToml(`
[server]
host = "::1"
port = 9090
grpc_socket = "/run/x/servin.sock"
grpc_tcp = "127.0.0.1:9091"
token_file = "/etc/servin/token"
allowed_uids = [1000, 1001]
allowed_gids = [4711]

[storage]
root = "/srv/servin"
state_dir = "/run/x"

[runtime]
backend = "memory"
default_runtime = "crun"
conmon = "/opt/bin/conmon"
pause = "/opt/bin/catatonit"
cgroup_parent = "pods.slice"
enable_pod_events = true
[runtime.runtimes.crun]
path = "/usr/bin/crun"
[runtime.runtimes.runc]
path = "/usr/sbin/runc"

[images]
backend = "memory"
auth_file = "/root/.docker/config.json"
upstream_fallback = false
max_layer_expanded_bytes = 1073741824
max_layer_expansion_ratio = 0
max_image_expanded_bytes = 2147483648

[registries."docker.io"]
mirrors = ["http://127.0.0.1:5000", "https://mirror.example"]
upstream_fallback = true
[registries."registry.internal:5000"]
insecure = true

[network]
conf_dir = "/srv/cni/net.d"
bin_dirs = ["/srv/cni/bin", "/usr/lib/cni"]
cache_dir = "/srv/servin/cni"

[streaming]
address = "0.0.0.0"
port = 10010
idle_timeout = "30m"

[log]
level = "debug"
format = "json"
`),
    ).toEqual({
      logLevel: "debug",
      logFormat: "json",
      host: "::1",
      port: 9090,
      grpcSocket: "/run/x/servin.sock",
      grpcTcp: "127.0.0.1:9091",
      tokenFile: "/etc/servin/token",
      allowedUids: [1000, 1001],
      allowedGids: [4711],
      root: "/srv/servin",
      stateDir: "/run/x",
      backend: "memory",
      defaultRuntime: "crun",
      conmonPath: "/opt/bin/conmon",
      pausePath: "/opt/bin/catatonit",
      cgroupParent: "pods.slice",
      enablePodEvents: true,
      runtimes: { crun: { path: "/usr/bin/crun" }, runc: { path: "/usr/sbin/runc" } },
      imageBackend: "memory",
      authFile: "/root/.docker/config.json",
      upstreamFallback: false,
      imageLimits: { maxLayerBytes: 1073741824, maxLayerExpansion: 0, maxImageBytes: 2147483648 },
      registries: {
        "docker.io": {
          mirrors: ["http://127.0.0.1:5000", "https://mirror.example"],
          insecure: undefined,
          upstreamFallback: true,
        },
        "registry.internal:5000": { mirrors: undefined, insecure: true },
      },
      cniConfDir: "/srv/cni/net.d",
      cniBinDirs: ["/srv/cni/bin", "/usr/lib/cni"],
      cniCacheDir: "/srv/servin/cni",
      streamingAddress: "0.0.0.0",
      streamingPort: 10010,
      streamingIdleTimeout: 1800,
    });
  });

  it("returns only what the file sets, so defaults and flags fill the rest", async () => {
    expect(await loadToml("")).toEqual({});
    expect(await loadToml("# nothing but a comment\n[server]\n")).toEqual({});
    expect(await loadToml(`[server]\nport = 0\n`)).toEqual({ port: 0 });
    expect(await loadToml(`[server]\ngrpc_socket = ""\n`)).toEqual({ grpcSocket: "" });
    expect(await loadToml(`[runtime]\nenable_pod_events = false\n`)).toEqual({ enablePodEvents: false });
  });

  it("accepts a missing file at the default path, not a missing explicit one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-config-"));
    dirs.push(dir);
    expect(await loadConfigFile(join(dir, "absent.toml"), false)).toEqual({});
    await expect(loadConfigFile(join(dir, "absent.toml"), true)).rejects.toThrow(
      /cannot read config file .*absent\.toml: ENOENT/,
    );
    // Present but unreadable (a directory) is an error even at the default path.
    await expect(loadConfigFile(dir, false)).rejects.toThrow(/cannot read config file/);
  });

  it("names the file on a TOML syntax error", async () => {
    const err = await loadToml(`[server\nport = 1\n`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^config file .*config\.toml: /);
  });

  it.each([
    [`[server]\nhost = 1\n`, /server\.host: expected a string/],
    [`[server]\nport = "8080"\n`, /server\.port: expected an integer 0-65535/],
    [`[server]\nport = 65536\n`, /server\.port: expected an integer 0-65535/],
    [`[server]\nport = -1\n`, /server\.port: expected an integer 0-65535/],
    [`[server]\nport = 80.5\n`, /server\.port: expected an integer 0-65535/],
    [`[server]\ngrpc_socket = false\n`, /server\.grpc_socket: expected a string/],
    [`[server]\ngrpc_tcp = 9091\n`, /server\.grpc_tcp: expected a string/],
    [`[server]\ntoken_file = ["a"]\n`, /server\.token_file: expected a string/],
    [`[server]\nallowed_uids = 1000\n`, /server\.allowed_uids: expected a list of numeric ids/],
    [`[server]\nallowed_uids = ["1000"]\n`, /server\.allowed_uids: expected a list of numeric ids/],
    [`[server]\nallowed_uids = [-1]\n`, /server\.allowed_uids: expected a list of numeric ids/],
    [`[server]\nallowed_gids = [4294967296]\n`, /server\.allowed_gids: expected a list of numeric ids/],
    [`[server]\nallowed_gids = [1.5]\n`, /server\.allowed_gids: expected a list of numeric ids/],
    [`[storage]\nroot = 1\n`, /storage\.root: expected a string/],
    [`[storage]\nstate_dir = 1\n`, /storage\.state_dir: expected a string/],
    [`[runtime]\nbackend = "docker"\n`, /runtime\.backend: expected "auto", "memory" or "oci", got "docker"/],
    [`[runtime]\nbackend = 1\n`, /runtime\.backend: expected a string/],
    [`[runtime]\ndefault_runtime = 1\n`, /runtime\.default_runtime: expected a string/],
    [`[runtime]\nconmon = 1\n`, /runtime\.conmon: expected a string/],
    [`[runtime]\npause = 1\n`, /runtime\.pause: expected a string/],
    [`[runtime]\ncgroup_parent = 1\n`, /runtime\.cgroup_parent: expected a string/],
    [`[runtime]\nenable_pod_events = "yes"\n`, /runtime\.enable_pod_events: expected true or false/],
    [`[runtime]\nenable_pod_events = 1\n`, /runtime\.enable_pod_events: expected true or false/],
    [`[runtime.runtimes.crun]\npath = 1\n`, /runtime\.runtimes\.crun\.path: expected a string/],
    [`[runtime.runtimes.crun]\n`, /runtime\.runtimes\.crun\.path: expected a string/],
    [`[runtime.runtimes.crun]\npath = ""\n`, /runtime\.runtimes\.crun\.path: expected a string/],
    [`[runtime]\nruntimes = "crun"\n`, /runtime\.runtimes: expected a table/],
    [`[runtime.runtimes]\ncrun = "/usr/bin/crun"\n`, /runtime\.runtimes\.crun: expected a table/],
    [`[images]\nbackend = "s3"\n`, /images\.backend: expected "memory" or "disk", got "s3"/],
    [`[images]\nauth_file = 1\n`, /images\.auth_file: expected a string/],
    [
      `[images]\nmax_layer_expanded_bytes = "1G"\n`,
      /images\.max_layer_expanded_bytes: expected a non-negative/,
    ],
    [
      `[images]\nmax_image_expanded_bytes = 1.5\n`,
      /images\.max_image_expanded_bytes: expected a non-negative/,
    ],
    [
      `[registries."docker.io"]\nmirrors = "http://m"\n`,
      /registries\."docker\.io"\.mirrors: expected a list of strings/,
    ],
    [
      `[registries."docker.io"]\nmirrors = [1]\n`,
      /registries\."docker\.io"\.mirrors: expected a list of strings/,
    ],
    [
      `[registries."docker.io"]\ninsecure = "yes"\n`,
      /registries\."docker\.io"\.insecure: expected true or false/,
    ],
    [`[registries]\n"docker.io" = "http://m"\n`, /registries\."docker\.io": expected a table/],
    [`[network]\nconf_dir = 1\n`, /network\.conf_dir: expected a string/],
    [`[network]\ncache_dir = false\n`, /network\.cache_dir: expected a string/],
    [`[network]\nbin_dirs = "/opt/cni/bin"\n`, /network\.bin_dirs: expected a non-empty list of directories/],
    [`[network]\nbin_dirs = []\n`, /network\.bin_dirs: expected a non-empty list of directories/],
    [`[network]\nbin_dirs = [1]\n`, /network\.bin_dirs: expected a non-empty list of directories/],
  ])("rejects %j, naming the key", async (toml, message) => {
    const err = await loadToml(toml).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^config file \S+config\.toml: /);
    expect((err as Error).message).toMatch(message);
  });

  it.each([
    [
      `[server]\nallowed_uid = [1000]\n`,
      /server\.allowed_uid: unknown key, did you mean "allowed_uids"\? \(expected one of host, port, /,
    ],
    [`[server]\ntoken = "secret"\n`, /server\.token: unknown key/],
    [
      `port = 8080\n`,
      /port: unknown section \(expected one of server, storage, runtime, images, network, streaming, log, registries\)/,
    ],
    [`[srever]\nport = 8080\n`, /srever: unknown section, did you mean "server"\?/],
    [`server = 8080\n`, /server: expected a table/],
    [`[storage]\ndata = "/x"\n`, /storage\.data: unknown key/],
    [`[runtime]\nruntime = "crun"\n`, /runtime\.runtime: unknown key/],
    [
      `[runtime]\nenable_pod_event = true\n`,
      /runtime\.enable_pod_event: unknown key, did you mean "enable_pod_events"\?/,
    ],
    [`[runtime.runtimes.crun]\npath = "/x"\nroot = "/y"\n`, /runtime\.runtimes\.crun\.root: unknown key/],
    [`[images]\nmax_layer_bytes = 1\n`, /images\.max_layer_bytes: unknown key/],
    [
      `[network]\nbin_dir = ["/x"]\n`,
      /network\.bin_dir: unknown key, did you mean "bin_dirs"\? \(expected one of conf_dir, bin_dirs, cache_dir\)/,
    ],
    [`[registries."docker.io"]\nmirror = ["http://m"]\n`, /registries\."docker\.io"\.mirror: unknown key/],
    [
      `[streaming]\nidle = "1h"\n`,
      /streaming\.idle: unknown key, did you mean "idle_timeout"\? \(expected one of address, port, idle_timeout\)/,
    ],
    [`[streaming]\nport = 70000\n`, /streaming\.port: expected an integer 0-65535/],
    [`[streaming]\nport = "1"\n`, /streaming\.port: expected an integer 0-65535/],
    [`[streaming]\naddress = ""\n`, /streaming\.address: expected an address/],
    [`[streaming]\nidle_timeout = "forever"\n`, /streaming\.idle_timeout: expected a positive duration/],
    [`[streaming]\nidle_timeout = 0\n`, /streaming\.idle_timeout: expected a positive duration/],
    [`[log]\nlevel = "verbose"\n`, /log\.level: expected one of debug, info, warn, error, got "verbose"/],
    [`[log]\nformat = "yaml"\n`, /log\.format: expected one of text, json, got "yaml"/],
    [
      `[log]\nlevle = "debug"\n`,
      /log\.levle: unknown key, did you mean "level"\? \(expected one of level, format\)/,
    ],
  ])("rejects the misspelt or unknown %j instead of ignoring it", async (toml, message) => {
    await expect(loadToml(toml)).rejects.toThrow(message);
  });
});

describe("flag parsers", () => {
  it("parses ports, backends and image backends", () => {
    expect(parsePort("0")).toBe(0);
    expect(parsePort("65535")).toBe(65535);
    expect(parsePort(8080)).toBe(8080);
    expect(parseBackend("oci")).toBe("oci");
    expect(parseImageBackend("memory")).toBe("memory");
  });

  it("parses streaming addresses and durations", () => {
    expect(parseStreamingAddress("0.0.0.0")).toEqual({ address: "0.0.0.0" });
    expect(parseStreamingAddress("127.0.0.1:10010")).toEqual({ address: "127.0.0.1", port: 10010 });
    expect(parseStreamingAddress("[::1]:0")).toEqual({ address: "::1", port: 0 });
    expect(parseStreamingAddress("::1")).toEqual({ address: "::1" });
    expect(parseDurationSeconds("4h", "k")).toBe(14400);
    expect(parseDurationSeconds("1h30m", "k")).toBe(5400);
    expect(parseDurationSeconds("500ms", "k")).toBe(0.5);
    expect(parseDurationSeconds(90, "k")).toBe(90);
    expect(() => parseStreamingAddress("")).toThrow(/--streaming-address: expected an address/);
    expect(() => parseStreamingAddress("h:70000")).toThrow(/--streaming-address: port expected 0-65535/);
  });

  it.each([
    [() => parsePort("http"), /--port: expected an integer 0-65535, got "http"/],
    [() => parsePort("65536"), /--port: expected an integer 0-65535, got "65536"/],
    [() => parsePort("1.5"), /--port/],
    [() => parsePort("-1"), /--port/],
    [() => parseBackend("OCI"), /backend: expected "auto", "memory" or "oci", got "OCI"/],
    [() => parseImageBackend(""), /image backend: expected "memory" or "disk", got ""/],
  ])("rejects bad flag values with their name (%#)", (parse, message) => {
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(message);
  });
});
