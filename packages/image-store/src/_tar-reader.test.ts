import { buildTar } from "@servin/testkit";
import { describe, expect, it } from "vitest";
import { ByteReader } from "./_bytes.js";
import { readTar, type TarEntry } from "./_tar-reader.js";

async function entries(tar: Buffer, chunk = 7): Promise<Array<TarEntry & { data: string }>> {
  // Feed in odd-sized chunks so header and body boundaries never line up with reads.
  const source = (async function* () {
    for (let i = 0; i < tar.length; i += chunk) yield tar.subarray(i, i + chunk);
  })();
  const out: Array<TarEntry & { data: string }> = [];
  for await (const { entry, body } of readTar(new ByteReader(source))) {
    const parts: Buffer[] = [];
    for await (const c of body) parts.push(c);
    out.push({ ...entry, data: Buffer.concat(parts).toString() });
  }
  return out;
}

function fixChecksum(tar: Buffer): void {
  tar.fill(32, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
}

describe("readTar", () => {
  it("reads ustar, pax long names, GNU long names and link targets", async () => {
    const long = `a/${"x".repeat(200)}`;
    const tar = buildTar([
      { path: "dir/", type: "dir", mode: 0o750, uid: 7, gid: 8, mtime: 1234 },
      { path: "dir/f", type: "file", data: "hello", mode: 0o4755 },
      { path: long, type: "file", data: "pax" },
      { path: `g/${"y".repeat(150)}`, type: "file", data: "gnu", gnuLongName: true },
      { path: "l", type: "symlink", linkname: "z".repeat(150), gnuLongName: true },
      { path: "h", type: "link", linkname: "dir/f" },
      { path: "c", type: "char", devmajor: 1, devminor: 3 },
      { path: "x", type: "file", data: "", xattrs: { "user.k": "v" } },
    ]);
    const got = await entries(tar);
    expect(got.map((e) => [e.name, e.type, e.data])).toEqual([
      ["dir/", "dir", ""],
      ["dir/f", "file", "hello"],
      [long, "file", "pax"],
      [`g/${"y".repeat(150)}`, "file", "gnu"],
      ["l", "symlink", ""],
      ["h", "link", ""],
      ["c", "char", ""],
      ["x", "file", ""],
    ]);
    expect(got[0]).toMatchObject({ mode: 0o750, uid: 7, gid: 8, mtime: 1234 });
    expect(got[1]!.mode).toBe(0o4755);
    expect(got[4]!.linkname).toBe("z".repeat(150));
    expect(got[5]!.linkname).toBe("dir/f");
    expect(got[6]).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(got[7]!.xattrs).toEqual({ "user.k": "v" });
  });

  it("skips bodies the caller does not read", async () => {
    const tar = buildTar([
      { path: "a", type: "file", data: "A".repeat(1000) },
      { path: "b", type: "file", data: "B" },
    ]);
    const names: string[] = [];
    const source = (async function* () {
      yield tar;
    })();
    for await (const { entry } of readTar(new ByteReader(source))) names.push(entry.name);
    expect(names).toEqual(["a", "b"]);
  });

  it("reads base-256 sizes", async () => {
    const tar = buildTar([{ path: "f", type: "file", data: "abc" }]);
    tar.fill(0, 124, 136);
    tar[124] = 0x80;
    tar[135] = 3;
    fixChecksum(tar);
    expect((await entries(tar)).map((e) => e.data)).toEqual(["abc"]);
  });

  it.each([
    ["a corrupted checksum", (t: Buffer) => (t[148] = 0x37), /checksum/],
    [
      "an unknown entry type",
      (t: Buffer) => {
        t[156] = "S".charCodeAt(0);
        fixChecksum(t);
      },
      /unsupported tar entry type/,
    ],
    ["a non-octal size", (t: Buffer) => t.write("zz", 124, "latin1"), /not octal|checksum/],
  ])("rejects %s", async (_name, mutate, message) => {
    const tar = buildTar([{ path: "f", type: "file", data: "abc" }]);
    mutate(tar);
    await expect(entries(tar)).rejects.toThrow(message);
  });

  it("rejects oversized and malformed pax headers", async () => {
    const big = buildTar([
      { path: "f", type: "file", data: "x", xattrs: { "user.big": "v".repeat(2 * 1024 * 1024) } },
    ]);
    await expect(entries(big, 65536)).rejects.toThrow(/exceeds the 1048576-byte cap/);
    const bad = buildTar([{ path: "f", type: "file", data: "x", xattrs: { "user.k": "v" } }]);
    bad.write("99", 512, "latin1");
    await expect(entries(bad)).rejects.toThrow(/pax header/);
  });

  it("rejects truncated archives", async () => {
    const tar = buildTar([{ path: "f", type: "file", data: "x".repeat(3000) }]);
    await expect(entries(tar.subarray(0, 1500))).rejects.toThrow(/unexpected end|truncated/);
    await expect(entries(tar.subarray(0, 100))).rejects.toThrow(/truncated tar header/);
  });
});
