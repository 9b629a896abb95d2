/** Plain HTTP answers on a socket that asked for an upgrade (the http server has handed the socket over). */
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

export function rejectUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Record<string, string | readonly string[]> = {},
): void {
  const body = `${message}\n`;
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`];
  for (const [name, value] of Object.entries(headers)) {
    for (const item of typeof value === "string" ? [value] : value) lines.push(`${name}: ${item}`);
  }
  lines.push(
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Connection: close",
  );
  socket.on("error", () => {});
  socket.end(`${lines.join("\r\n")}\r\n\r\n${body}`);
  // a client that never reads must not keep the socket open
  setTimeout(() => socket.destroy(), 5_000).unref();
}
