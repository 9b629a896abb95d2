/** Default locations of servin's files: FHS paths as root, XDG paths otherwise (docs: "Files on disk"). */
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

export interface DefaultPaths {
  /** Persistent data: images, blobs, container metadata, writable layers. */
  root: string;
  /** Runtime state: sockets, exit files, bundles, conmon pid files. */
  stateDir: string;
  /** The CRI gRPC unix socket (kubelet's and crictl's endpoint). */
  grpcSocket: string;
  /** The optional config file (flags override it). */
  configFile: string;
}

/**
 * Where servin keeps its files when no flag or config says otherwise.
 *
 * | what | root | non-root |
 * |---|---|---|
 * | root | `/var/lib/servin` | `$XDG_DATA_HOME/servin` (default `~/.local/share/servin`) |
 * | stateDir | `/run/servin` | `$XDG_RUNTIME_DIR/servin` (default `/tmp/servin-<uid>/servin`) |
 * | grpcSocket | `/run/servin/servin.sock` | `<stateDir>/servin.sock` |
 * | configFile | `/etc/servin/config.toml` | `$XDG_CONFIG_HOME/servin/config.toml` (default `~/.config/…`) |
 *
 * Empty or relative XDG variables are ignored, as the XDG Base Directory
 * specification requires.
 *
 * @example
 * defaultPaths().grpcSocket; // "/run/servin/servin.sock" as root
 * defaultPaths({ XDG_RUNTIME_DIR: "/run/user/1000" }, 1000).grpcSocket; // "/run/user/1000/servin/servin.sock"
 */
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
  const xdg = (name: string): string | undefined => {
    const value = env[name];
    return value && isAbsolute(value) ? value : undefined;
  };
  const home = env.HOME || homedir();
  const data = xdg("XDG_DATA_HOME") ?? join(home, ".local", "share");
  const config = xdg("XDG_CONFIG_HOME") ?? join(home, ".config");
  const runtime = xdg("XDG_RUNTIME_DIR") ?? join("/tmp", `servin-${uid}`);
  const stateDir = join(runtime, "servin");
  return {
    root: join(data, "servin"),
    stateDir,
    grpcSocket: join(stateDir, "servin.sock"),
    configFile: join(config, "servin", "config.toml"),
  };
}
