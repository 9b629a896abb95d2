import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { capabilitiesFromMask } from "./_host-caps.js";
import { loadLocalhostProfile, MAX_SECCOMP_PROFILE_BYTES, resolveSeccomp } from "./_seccomp.js";

const dir = mkdtempSync(join(tmpdir(), "servin-seccomp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const what = 'container "web"';

describe("loadLocalhostProfile", () => {
  it("loads and validates a profile file", async () => {
    const p = join(dir, "ok.json");
    writeFileSync(
      p,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }],
      }),
    );
    await expect(loadLocalhostProfile(p, what)).resolves.toMatchObject({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }],
    });
    await expect(
      resolveSeccomp({ seccomp: { profileType: "Localhost", localhostRef: p } }, what),
    ).resolves.toMatchObject({
      choice: { type: "Localhost", path: p },
      localhost: { defaultAction: "SCMP_ACT_ALLOW" },
    });
    await expect(resolveSeccomp(undefined, what)).resolves.toEqual({
      choice: { type: "Unconfined", reason: "unset" },
    });
  });
  it("refuses a relative path (InvalidArgument) and a missing file or a directory (FailedPrecondition)", async () => {
    await expect(loadLocalhostProfile("profiles/p.json", what)).rejects.toMatchObject({
      code: "InvalidArgument",
      message: 'container "web": seccomp localhost profile "profiles/p.json" must be an absolute path',
    });
    await expect(loadLocalhostProfile(join(dir, "none.json"), what)).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining('none.json" does not exist on this host'),
    });
    mkdirSync(join(dir, "d"));
    await expect(loadLocalhostProfile(join(dir, "d"), what)).rejects.toMatchObject({
      code: "FailedPrecondition",
      message: expect.stringContaining("is not a regular file"),
    });
  });
  it("refuses oversized and malformed files (InvalidArgument naming the path)", async () => {
    const big = join(dir, "big.json");
    writeFileSync(big, " ".repeat(MAX_SECCOMP_PROFILE_BYTES + 1));
    await expect(loadLocalhostProfile(big, what)).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining('big.json" is 1048577 bytes'),
    });
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}');
    await expect(loadLocalhostProfile(bad, what)).rejects.toMatchObject({
      code: "InvalidArgument",
      message: `seccomp profile "${bad}": syscalls: expected an array`,
    });
  });
});

describe("capabilitiesFromMask", () => {
  it("reads a CapBnd mask in bit order", () => {
    const caps = capabilitiesFromMask("000001fffeffffff"); // a host without CAP_SYS_RESOURCE (bit 24)
    expect(caps).toContain("CAP_SYS_ADMIN");
    expect(caps).toContain("CAP_CHECKPOINT_RESTORE");
    expect(caps).not.toContain("CAP_SYS_RESOURCE");
    expect(capabilitiesFromMask("3")).toEqual(["CAP_CHOWN", "CAP_DAC_OVERRIDE"]);
  });
});
