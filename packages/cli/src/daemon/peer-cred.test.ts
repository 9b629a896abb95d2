import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import {
  canonicalAddress,
  createPeerAdmission,
  decodeProcAddress,
  findPeerUid,
  groupsOfUid,
  isLoopbackHost,
  lookupPeerUid,
  parseProcNetTcp,
} from "./peer-cred.js";

// Captured shapes of /proc/net/tcp and tcp6 on x86-64 (little-endian words).
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1077 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000 65534        0 2002 1 0000000000000000 20 4 30 10 -1
   3: 0A00020F:0016 0102A8C0:C350 01 00000000:00000000 00:00000000 00000000  1000        0 2003 1 0000000000000000 20 4 30 10 -1
   garbage line
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F91 00000000000000000000000001000000:9C40 01 00000000:00000000 00:00000000 00000000  1001        0 3001 1 0000000000000000 20 4 30 10 -1
   1: 0000000000000000FFFF00000100007F:A000 0000000000000000FFFF00000100007F:1F92 01 00000000:00000000 00:00000000 00000000  1002        0 3002 1 0000000000000000 20 4 30 10 -1
`;

describe("parsing the kernel's socket tables", () => {
  it("decodes host-order words: IPv4, IPv6 and IPv4-mapped IPv6", () => {
    expect(decodeProcAddress("0100007F", "LE")).toBe("127.0.0.1");
    expect(decodeProcAddress("7F000001", "BE")).toBe("127.0.0.1");
    expect(decodeProcAddress("00000000000000000000000001000000", "LE")).toBe("0:0:0:0:0:0:0:1");
    expect(decodeProcAddress("0000000000000000FFFF00000100007F", "LE")).toBe("127.0.0.1");
    expect(decodeProcAddress("B80D0120000000000000000001000000", "LE")).toBe("2001:db8:0:0:0:0:0:1");
    expect(() => decodeProcAddress("xyz", "LE")).toThrow(/expected 8 or 32 hex digits/);
  });

  it("spells Node's addresses the same way", () => {
    expect(canonicalAddress("127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalAddress("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(canonicalAddress("::1")).toBe("0:0:0:0:0:0:0:1");
    expect(canonicalAddress("[2001:DB8::1]")).toBe("2001:db8:0:0:0:0:0:1");
    expect(canonicalAddress("fe80::1%eth0")).toBe("fe80:0:0:0:0:0:0:1");
    expect(() => canonicalAddress("not-an-ip")).toThrow(/not an IP address/);
  });

  it("parses rows and skips malformed ones", () => {
    const rows = parseProcNetTcp(TCP, "LE");
    expect(rows).toHaveLength(4);
    expect(rows[2]).toEqual({
      localAddress: "127.0.0.1",
      localPort: 0xd431,
      remoteAddress: "127.0.0.1",
      remotePort: 8080,
      state: "01",
      uid: 65534,
    });
    expect(parseProcNetTcp(TCP6, "LE").map((r) => r.localAddress)).toEqual(["0:0:0:0:0:0:0:1", "127.0.0.1"]);
  });

  it("finds the client's socket, never the server's own accepted socket or a listener", () => {
    const rows = [...parseProcNetTcp(TCP, "LE"), ...parseProcNetTcp(TCP6, "LE")];
    const peer = {
      remoteAddress: "127.0.0.1",
      remotePort: 0xd431,
      localAddress: "127.0.0.1",
      localPort: 8080,
    };
    // Row 1 is our own accepted socket (uid 0) on the same port pair: the client's row 2 is the answer.
    expect(findPeerUid(peer, rows)).toBe(65534);
    expect(
      findPeerUid({ remoteAddress: "::1", remotePort: 0x1f91, localAddress: "::1", localPort: 0x9c40 }, rows),
    ).toBe(1001);
    // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d.
    expect(
      findPeerUid(
        {
          remoteAddress: "::ffff:127.0.0.1",
          remotePort: 0xa000,
          localAddress: "::ffff:127.0.0.1",
          localPort: 0x1f92,
        },
        rows,
      ),
    ).toBe(1002);
    expect(findPeerUid({ ...peer, remotePort: 1 }, rows)).toBeUndefined();
  });

  it("maps a uid to its primary and supplementary groups", () => {
    const passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbad line\n";
    const group = "root:x:0:\nalice:x:1000:\nops:x:1500:bob, alice\ndocker:x:999:bob\n";
    expect(groupsOfUid(1000, passwd, group).sort()).toEqual([1000, 1500]);
    expect(groupsOfUid(4242, passwd, group)).toEqual([]);
  });

  it("tells loopback hosts from the rest", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", ""])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

const root = process.getuid?.() === 0;

/** Listens on `host`, and resolves the server end of each accepted connection. */
async function listener(host: string): Promise<{ server: Server; port: number; next(): Promise<Socket> }> {
  const server = createServer();
  const waiting: Array<(s: Socket) => void> = [];
  const accepted: Socket[] = [];
  server.on("connection", (s) => {
    const w = waiting.shift();
    if (w) w(s);
    else accepted.push(s);
  });
  server.listen(0, host);
  await once(server, "listening");
  return {
    server,
    port: (server.address() as { port: number }).port,
    next: () => new Promise((ok) => (accepted.length > 0 ? ok(accepted.shift()!) : waiting.push(ok))),
  };
}

/** A client held open by an unprivileged process (uid/gid 65534, no groups). */
function connectAsNobody(host: string, port: number): ChildProcess {
  const script = `require("net").connect(${port}, ${JSON.stringify(host)}).on("error", () => process.exit(3)); setTimeout(() => {}, 60000);`;
  return spawn(
    "setpriv",
    ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script],
    {
      stdio: "ignore",
    },
  );
}

const peerOf = (s: Socket) => ({
  remoteAddress: s.remoteAddress!,
  remotePort: s.remotePort!,
  localAddress: s.localAddress!,
  localPort: s.localPort!,
});

describe.skipIf(!root)("the real kernel tables (root)", () => {
  for (const [host, connectTo] of [
    ["127.0.0.1", "127.0.0.1"],
    ["::1", "::1"],
    ["::", "127.0.0.1"],
  ] as const) {
    it(`finds root's and nobody's connections to ${host} (client dials ${connectTo})`, async () => {
      const l = await listener(host);
      const mine = connect(l.port, connectTo);
      const accepted = await l.next();
      const child = connectAsNobody(connectTo, l.port);
      try {
        expect(await lookupPeerUid(peerOf(accepted))).toBe(0);
        const theirs = await l.next();
        expect(await lookupPeerUid(peerOf(theirs))).toBe(65534);
        const admit = createPeerAdmission();
        expect(await admit(peerOf(accepted))).toBe(true);
        expect(await admit(peerOf(theirs))).toBe(false);
        expect(await createPeerAdmission({ allowedUids: [65534] })(peerOf(theirs))).toBe(true);
        // A peer that is gone from the tables (here: a made-up port) is denied.
        expect(await admit({ ...peerOf(theirs), remotePort: 1 })).toBe(false);
      } finally {
        child.kill();
        mine.destroy();
        l.server.close();
      }
    });
  }

  it("admits members of an allowed group, per /etc/passwd and /etc/group", async () => {
    const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "servin-peer-"));
    await writeFile(join(dir, "passwd"), "nobody:x:65534:65534::/:/bin/false\n");
    await writeFile(join(dir, "group"), "nogroup:x:65534:\nservin:x:4711:nobody\n");
    const l = await listener("127.0.0.1");
    const child = connectAsNobody("127.0.0.1", l.port);
    try {
      const theirs = peerOf(await l.next());
      const files = { passwdFile: join(dir, "passwd"), groupFile: join(dir, "group") };
      expect(await createPeerAdmission({ allowedGids: [4711], ...files })(theirs)).toBe(true);
      expect(await createPeerAdmission({ allowedGids: [4712], ...files })(theirs)).toBe(false);
    } finally {
      child.kill();
      l.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
