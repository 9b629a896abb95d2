/** What this process holds, read from /proc: child processes and open fds (for leak tests). */
import { readdirSync, readFileSync } from "node:fs";

/** Live (non-zombie) child processes of this process. */
export function childPids(): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // fields after the command (which may hold spaces) : state ppid ...
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === process.pid && state !== "Z") children.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return children;
}

export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

export async function until(check: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > limitMs) throw new Error(`still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
