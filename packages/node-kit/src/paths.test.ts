import { describe, expect, it } from "vitest";
import { defaultPaths } from "./paths.js";

describe("defaultPaths", () => {
  it("uses the FHS paths as root, whatever the environment says", () => {
    expect(defaultPaths({ XDG_RUNTIME_DIR: "/run/user/0", XDG_DATA_HOME: "/x" }, 0)).toEqual({
      root: "/var/lib/servin",
      stateDir: "/run/servin",
      grpcSocket: "/run/servin/servin.sock",
      configFile: "/etc/servin/config.toml",
    });
  });

  it("uses the XDG directories for other users, the socket inside the state dir", () => {
    const env = {
      HOME: "/home/ada",
      XDG_DATA_HOME: "/data/ada",
      XDG_RUNTIME_DIR: "/run/user/1000",
      XDG_CONFIG_HOME: "/cfg/ada",
    };
    expect(defaultPaths(env, 1000)).toEqual({
      root: "/data/ada/servin",
      stateDir: "/run/user/1000/servin",
      grpcSocket: "/run/user/1000/servin/servin.sock",
      configFile: "/cfg/ada/servin/config.toml",
    });
  });

  it("falls back to the XDG defaults for unset, empty or relative variables", () => {
    const expected = {
      root: "/home/ada/.local/share/servin",
      stateDir: "/tmp/servin-1000/servin",
      grpcSocket: "/tmp/servin-1000/servin/servin.sock",
      configFile: "/home/ada/.config/servin/config.toml",
    };
    expect(defaultPaths({ HOME: "/home/ada" }, 1000)).toEqual(expected);
    expect(
      defaultPaths(
        { HOME: "/home/ada", XDG_DATA_HOME: "", XDG_RUNTIME_DIR: "run", XDG_CONFIG_HOME: "./cfg" },
        1000,
      ),
    ).toEqual(expected);
  });
});
