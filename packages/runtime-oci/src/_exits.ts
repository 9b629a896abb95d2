/** Watches conmon's exit directory and reports each container exit once, without anyone polling containers. */
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

export interface ExitRecord {
  id: string;
  exitCode: number;
  /** The exit file's mtime: when conmon saw the process end. */
  finishedAt: bigint;
}

const ID = /^[0-9a-f]{64}$/;
/** Safety net for missed inotify events (overflow, a watcher restarted): a slow re-scan. */
const RESCAN_MS = 5_000;

/**
 * conmon writes `<exit-dir>/<id>` holding the exit code when a container's
 * process ends (via a temp file + rename, so a visible file is complete).
 *
 * @example
 * const exits = await createExitWatcher("/run/servin/exits");
 * exits.on((e) => console.log(e.id, e.exitCode));
 * const exit = await exits.wait(id, 10_000);
 */
export interface ExitWatcher {
  /** The exit of `id` if its file exists. */
  read(id: string): Promise<ExitRecord | undefined>;
  /**
   * Resolves with the exit once it happens, or undefined after `timeoutMs` or
   * as soon as `signal` aborts (the wait is dropped at once: no entry outlives it).
   */
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<ExitRecord | undefined>;
  /** Subscribes to new exits (files that appear after the watcher started). */
  on(listener: (exit: ExitRecord) => void): () => void;
  /** Forgets an id so a future file with that name is reported again. */
  forget(id: string): void;
  /** How many ids someone is waiting on (diagnostics and tests: no entry outlives its waits). */
  waitingIds(): number;
  close(): void;
}

export interface ExitWatcherOptions {
  /** The safety-net re-scan period. */
  rescanMs?: number;
  /** Reads one exit file (a seam for tests that count the I/O). */
  readExit?: (dir: string, id: string) => Promise<ExitRecord | undefined>;
}

export async function readExitFile(dir: string, id: string): Promise<ExitRecord | undefined> {
  const path = join(dir, id);
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path, { bigint: true })]);
    const code = Number.parseInt(text.trim(), 10);
    if (!Number.isFinite(code)) return undefined;
    return { id, exitCode: code, finishedAt: st.mtimeNs };
  } catch {
    return undefined;
  }
}

export async function createExitWatcher(dir: string, opts: ExitWatcherOptions = {}): Promise<ExitWatcher> {
  const readExit = opts.readExit ?? readExitFile;
  const seen = new Set<string>();
  const listeners = new Set<(exit: ExitRecord) => void>();
  const waiters = new Map<string, Set<(exit: ExitRecord | undefined) => void>>();

  // Files present at start were reported (or reconciled through inspect) before.
  for (const name of await readdir(dir).catch(() => [] as string[])) if (ID.test(name)) seen.add(name);

  const check = async (name: string) => {
    if (!ID.test(name)) return;
    // Reported exits stay on disk until their container is removed: re-reading
    // them on every event and re-scan is wasted I/O unless someone waits.
    if (seen.has(name) && !waiters.has(name)) return;
    const exit = await readExit(dir, name);
    if (!exit) return;
    const ws = waiters.get(name);
    if (ws) {
      waiters.delete(name);
      for (const w of ws) w(exit);
    }
    if (seen.has(name)) return;
    seen.add(name);
    for (const l of listeners) l(exit);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, (_event, name) => {
      if (name) void check(name.toString());
    });
    watcher.on("error", () => {});
  } catch {
    watcher = undefined; // the rescan still finds exits, only later
  }
  const rescan = setInterval(() => {
    void readdir(dir)
      .then((names) => Promise.all(names.map(check)))
      .catch(() => {});
  }, opts.rescanMs ?? RESCAN_MS);
  rescan.unref();

  return {
    read: (id) => readExit(dir, id),
    async wait(id, timeoutMs, signal) {
      const now = await readExit(dir, id);
      if (now || signal?.aborted) return now;
      return new Promise((resolve) => {
        let set = waiters.get(id);
        if (!set) {
          set = new Set();
          waiters.set(id, set);
        }
        const done = (exit: ExitRecord | undefined) => {
          clearTimeout(timer);
          clearInterval(poll);
          signal?.removeEventListener("abort", onAbort);
          const ws = waiters.get(id);
          ws?.delete(done);
          if (ws?.size === 0) waiters.delete(id);
          resolve(exit);
        };
        set.add(done);
        const onAbort = () => done(undefined);
        signal?.addEventListener("abort", onAbort, { once: true });
        const timer = setTimeout(() => done(undefined), Math.max(0, timeoutMs));
        // A cheap local poll while someone is actually waiting, in case the
        // inotify event is lost; never used to discover exits in general.
        const poll = setInterval(() => {
          void readExit(dir, id).then((e) => {
            if (e) done(e);
          });
        }, 250);
        // Re-read once: the file may have appeared between the first read and registration.
        void readExit(dir, id).then((e) => {
          if (e) done(e);
        });
      });
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    forget(id) {
      seen.delete(id);
    },
    waitingIds: () => waiters.size,
    close() {
      watcher?.close();
      clearInterval(rescan);
      for (const [, set] of waiters) for (const w of [...set]) w(undefined);
      waiters.clear();
    },
  };
}
