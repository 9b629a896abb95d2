/**
 * Pull progress: one live bar per blob on a TTY (bytes, speed, total), plain
 * lines on status changes otherwise (logs and CI stay readable).
 */
import type { PullProgress } from "@servin/cri-types";
import { humanBytes, shortId } from "./table.js";

interface Row {
  p: PullProgress;
  started: number;
}

export interface ProgressView {
  update(p: PullProgress): void;
  done(): void;
}

export function createProgressView(out: NodeJS.WriteStream = process.stdout): ProgressView {
  const rows = new Map<string, Row>();
  const tty = out.isTTY === true && !process.env.CI;
  let drawn = 0;
  let last = 0;

  const line = ({ p, started }: Row): string => {
    const label = `${shortId(p.digest)} ${p.kind.padEnd(8)}`;
    if (p.status === "exists") return `${label} already exists`;
    if (p.status === "waiting") return `${label} waiting`;
    const width = 30;
    const ratio = p.total > 0 ? Math.min(1, p.current / p.total) : 0;
    const bar = `[${"=".repeat(Math.round(ratio * width)).padEnd(width)}]`;
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    const speed = `${humanBytes(p.current / seconds)}/s`;
    return `${label} ${p.status.padEnd(11)} ${bar} ${humanBytes(p.current)}/${humanBytes(p.total)} ${speed}`;
  };

  const redraw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    for (const row of rows.values()) out.write(`\x1b[2K${line(row)}\n`);
    drawn = rows.size;
  };

  return {
    update(p) {
      const prev = rows.get(p.digest);
      rows.set(p.digest, { p, started: prev?.started ?? Date.now() });
      if (tty) redraw(false);
      else if (!prev || prev.p.status !== p.status) out.write(`${line(rows.get(p.digest)!)}\n`);
    },
    done() {
      if (tty) redraw(true);
    },
  };
}
