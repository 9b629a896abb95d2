/** Default locations of servin's files: FHS paths as root, XDG paths otherwise (see ARCHITECTURE.md "Files on disk"). */
import { homedir } from "node:os";
import { join } from "node:path";

export interface DefaultPaths {
  root: string;
  stateDir: string;
  grpcSocket: string;
  configFile: string;
}

export function defaultPaths(
  env: NodeJS.ProcessEnv = process.env,
  uid = process.getuid?.() ?? 0,
): DefaultPaths {
  if (uid === 0) {
    return {
      root: "/var/lib/servin",
      stateDir: "/run/servin",
      grpcSocket: "/run/servin/servin.sock",
      configFile: "/etc/servin/config.toml",
    };
  }
  const home = env.HOME ?? homedir();
  const data = env.XDG_DATA_HOME || join(home, ".local", "share");
  const config = env.XDG_CONFIG_HOME || join(home, ".config");
  const runtime = env.XDG_RUNTIME_DIR || join("/tmp", `servin-${uid}`);
  return {
    root: join(data, "servin"),
    stateDir: join(runtime, "servin"),
    grpcSocket: join(runtime, "servin", "servin.sock"),
    configFile: join(config, "servin", "config.toml"),
  };
}
