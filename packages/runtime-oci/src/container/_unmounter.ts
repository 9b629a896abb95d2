/**
 * Unmounts for the container cleanup through one long-lived `sh` that forks `umount` itself: the daemon
 * forks once, not once per removal (a fork of a large daemon stalls its event loop for milliseconds).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { forkUmount, type Umount } from "../_mounts.js";

/**
 * Reads requests of two lines, "plain"|"lazy" then the path, and answers each
 * with umount's exit code on a line of its own, in order. It ends when its
 * input does (the daemon gone): nothing to clean up after a crash.
 */
const SCRIPT = [
  "while IFS= read -r how && IFS= read -r path; do",
  '  if [ "$how" = lazy ]; then umount -l "$path"; else umount "$path"; fi </dev/null >/dev/null 2>&1',
  '  echo "$?"',
  "done",
].join("\n");

interface Helper {
  child: ChildProcess;
  /** Resolvers of the requests sent, oldest first (answers come in order). */
  waiting: ((code: number | undefined) => void)[];
}

let helper: Helper | undefined;

function start(): Helper {
  const child = spawn("/bin/sh", ["-c", SCRIPT], { stdio: ["pipe", "pipe", "ignore"] });
  const h: Helper = { child, waiting: [] };
  child.unref();
  (child.stdin as unknown as Socket).unref?.();
  (child.stdout as unknown as Socket).unref?.();
  let buf = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const code = Number(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      h.waiting.shift()?.(Number.isInteger(code) ? code : undefined);
      if (h.waiting.length === 0) (child.stdout as unknown as Socket).unref?.();
    }
  });
  const gone = () => {
    if (helper === h) helper = undefined;
    for (const w of h.waiting.splice(0)) w(undefined);
  };
  child.on("error", gone);
  child.on("exit", gone);
  child.stdin?.on("error", gone);
  return h;
}

/** umount's exit code through the helper; undefined when the helper could not answer (the caller runs umount itself). */
function viaHelper(path: string, lazy: boolean): Promise<number | undefined> {
  if (path.includes("\n")) return Promise.resolve(undefined);
  helper ??= start();
  const h = helper;
  return new Promise((resolve) => {
    h.waiting.push(resolve);
    (h.child.stdout as unknown as Socket).ref?.();
    h.child.stdin?.write(`${lazy ? "lazy" : "plain"}\n${path}\n`);
  });
}

/** umount through the helper, or forked from the daemon when the helper cannot answer: `unmountAll(path, helperUmount)`. */
export const helperUmount: Umount = async (path, lazy) =>
  (await viaHelper(path, lazy)) ?? forkUmount(path, lazy);

/** The helper's pid while it runs (tests). */
export function unmounterPid(): number | undefined {
  return helper?.child.pid;
}
