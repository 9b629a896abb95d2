import { describe, expect, it } from "vitest";
import { buildContainerSpec, type ContainerSpecInput, resolveCapabilities } from "./container-spec.js";
import { DEFAULT_CAPABILITIES } from "./defaults.js";
import { podNamespaceModes } from "./namespaces.js";
import { buildSandboxSpec } from "./sandbox-spec.js";
import {
  chooseSeccompProfile,
  defaultSeccompProfile,
  parseSeccompProfile,
  renderSeccompProfile,
  type SeccompHost,
  seccompProfileName,
} from "./seccomp.js";
import { CAPABILITY_SYSCALLS, CLONE_NAMESPACE_FLAGS } from "./seccomp-default.js";
import type { OciSeccomp } from "./types.js";

const X64: SeccompHost = { arch: "x64", kernel: "6.1.0-13-amd64" };
const ARM64: SeccompHost = { arch: "arm64", kernel: "6.1.0" };

/** Names allowed with no argument condition. */
const allowed = (p: OciSeccomp) =>
  new Set((p.syscalls ?? []).filter((r) => r.action === "SCMP_ACT_ALLOW" && !r.args).flatMap((r) => r.names));
const rulesFor = (p: OciSeccomp, name: string) => (p.syscalls ?? []).filter((r) => r.names.includes(name));

describe("chooseSeccompProfile (containerd's rules)", () => {
  const pick = (s: Parameters<typeof chooseSeccompProfile>[0]) => chooseSeccompProfile(s, 'container "c"');
  it("is unconfined when nothing is asked (kubelet sends RuntimeDefault explicitly) and when privileged", () => {
    expect(pick(undefined)).toEqual({ type: "Unconfined", reason: "unset" });
    expect(pick({})).toEqual({ type: "Unconfined", reason: "unset" });
    expect(pick({ privileged: true, seccomp: { profileType: "RuntimeDefault" } })).toEqual({
      type: "Unconfined",
      reason: "privileged",
    });
    expect(pick({ seccomp: { profileType: "Unconfined" } })).toEqual({
      type: "Unconfined",
      reason: "unconfined",
    });
  });
  it("reads a present seccomp message without profile_type as its proto3 zero value, RuntimeDefault", () => {
    expect(pick({ seccomp: {} as never })).toEqual({ type: "RuntimeDefault" });
  });
  it("prefers the seccomp field to the deprecated path, and trims localhost/ from the ref", () => {
    expect(
      pick({
        seccomp: { profileType: "Localhost", localhostRef: "localhost//p.json" },
        seccompProfilePath: "unconfined",
      }),
    ).toEqual({ type: "Localhost", path: "/p.json" });
  });
  it("maps the deprecated seccomp_profile_path strings", () => {
    expect(pick({ seccompProfilePath: "runtime/default" })).toEqual({ type: "RuntimeDefault" });
    expect(pick({ seccompProfilePath: "docker/default" })).toEqual({ type: "RuntimeDefault" });
    expect(pick({ seccompProfilePath: "unconfined" })).toEqual({ type: "Unconfined", reason: "unconfined" });
    expect(pick({ seccompProfilePath: "localhost//etc/p.json" })).toEqual({
      type: "Localhost",
      path: "/etc/p.json",
    });
  });
  it("refuses contradictory or unknown requests with InvalidArgument naming the container", () => {
    expect(() => pick({ seccompProfilePath: "strict" })).toThrow(
      /container "c": seccomp_profile_path "strict"/,
    );
    expect(() => pick({ seccomp: { profileType: "RuntimeDefault", localhostRef: "/p.json" } })).toThrow(
      /only allowed with profile_type Localhost/,
    );
    expect(() => pick({ seccomp: { profileType: "Localhost" } })).toThrow(/needs a localhost_ref/);
    try {
      pick({ seccompProfilePath: "bogus" });
    } catch (err) {
      expect(err).toMatchObject({ code: "InvalidArgument" });
    }
  });
  it("names the profile in status as the CRI spells it", () => {
    expect(seccompProfileName({ type: "RuntimeDefault" })).toBe("runtime/default");
    expect(seccompProfileName({ type: "Localhost", path: "/p.json" })).toBe("localhost//p.json");
    expect(seccompProfileName({ type: "Unconfined", reason: "privileged" })).toBe("unconfined (privileged)");
  });
});

describe("defaultSeccompProfile (RuntimeDefault)", () => {
  it("denies with EPERM by default and covers the host's compat architectures", () => {
    const p = defaultSeccompProfile([...DEFAULT_CAPABILITIES], X64);
    expect(p.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(p.defaultErrnoRet).toBe(1);
    expect(p.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    expect(defaultSeccompProfile([], ARM64).architectures).toEqual(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    expect(defaultSeccompProfile([], { arch: "sparc", kernel: "6.1" }).architectures).toBeUndefined();
  });
  it("allows the everyday syscalls and the host architecture's own", () => {
    const x = allowed(defaultSeccompProfile([], X64));
    for (const n of ["read", "write", "openat", "execve", "mkdirat", "futex", "rseq", "clock_gettime"])
      expect(x).toContain(n);
    expect(x).toContain("arch_prctl");
    expect(x).toContain("modify_ldt");
    expect(x).not.toContain("set_tls");
    const a = allowed(defaultSeccompProfile([], ARM64));
    expect(a).toContain("set_tls");
    expect(a).not.toContain("arch_prctl");
  });
  it("unlocks each capability's syscalls only with that capability", () => {
    const none = allowed(defaultSeccompProfile([], X64));
    for (const [cap, names] of Object.entries(CAPABILITY_SYSCALLS)) {
      const withCap = allowed(defaultSeccompProfile([cap], X64));
      for (const n of names) {
        expect(withCap, `${cap} → ${n}`).toContain(n);
        // ptrace & co. are open to all on kernels ≥ 4.8; everything else needs the capability.
        if (!["ptrace", "process_vm_readv", "process_vm_writev"].includes(n))
          expect(none, `${n} without ${cap}`).not.toContain(n);
      }
    }
    for (const n of [
      "mount",
      "umount2",
      "unshare",
      "setns",
      "bpf",
      "reboot",
      "init_module",
      "chroot",
      "acct",
    ])
      expect(none).not.toContain(n);
  });
  it("opens ptrace to everyone only on kernels from 4.8", () => {
    expect(allowed(defaultSeccompProfile([], X64))).toContain("ptrace");
    expect(allowed(defaultSeccompProfile([], { arch: "x64", kernel: "4.4.0-210" }))).not.toContain("ptrace");
    expect(allowed(defaultSeccompProfile(["CAP_SYS_PTRACE"], { arch: "x64", kernel: "4.4.0" }))).toContain(
      "ptrace",
    );
  });
  it("allows clone only without namespace flags, and answers clone3 with ENOSYS, unless CAP_SYS_ADMIN", () => {
    const p = defaultSeccompProfile([...DEFAULT_CAPABILITIES], X64);
    expect(CLONE_NAMESPACE_FLAGS).toBe(0x7e020000);
    expect(rulesFor(p, "clone")).toEqual([
      {
        names: ["clone"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      },
    ]);
    expect(rulesFor(p, "clone3")).toEqual([{ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }]);
    // s390 passes the flags second.
    const s390 = defaultSeccompProfile([], { arch: "s390x", kernel: "6.1" });
    expect(rulesFor(s390, "clone")[0]?.args?.[0]?.index).toBe(1);
    const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], X64);
    expect(allowed(admin)).toContain("clone");
    expect(allowed(admin)).toContain("clone3");
    expect(rulesFor(admin, "clone3").every((r) => r.action === "SCMP_ACT_ALLOW")).toBe(true);
    expect(rulesFor(admin, "clone").every((r) => !r.args)).toBe(true);
  });
  it("filters socket (no AF_VSOCK) and personality by argument", () => {
    const p = defaultSeccompProfile([], X64);
    expect(allowed(p)).not.toContain("socket");
    expect(rulesFor(p, "socket")).toEqual([
      { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 40, op: "SCMP_CMP_NE" }] },
    ]);
    expect(rulesFor(p, "personality").map((r) => r.args?.[0]?.value)).toEqual([
      0, 8, 0x20000, 0x20008, 0xffffffff,
    ]);
  });
});

const input = (over: Partial<ContainerSpecInput> = {}): ContainerSpecInput => ({
  id: "c1",
  sandboxId: "s1",
  config: { metadata: { name: "web" }, image: { image: "busybox" } },
  image: { cmd: ["sh"] },
  rootfs: "/r",
  user: { uid: 0, gid: 0 },
  podModes: podNamespaceModes({ metadata: { name: "p" } }),
  join: {},
  hostname: "p",
  podFiles: { hosts: "/h", resolvConf: "/r", hostname: "/n" },
  shmPath: "/s",
  cgroupsPath: "/c",
  cgroupMode: "v2",
  devices: [],
  seccompHost: X64,
  ...over,
});
const withSecurity = (securityContext: object) =>
  input({ config: { metadata: { name: "web" }, image: { image: "b" }, linux: { securityContext } } });

describe("buildContainerSpec / buildSandboxSpec seccomp", () => {
  it("puts the RuntimeDefault profile of the container's effective capabilities in linux.seccomp", () => {
    const plain = buildContainerSpec(withSecurity({ seccomp: { profileType: "RuntimeDefault" } }));
    expect(plain.linux.seccomp?.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(allowed(plain.linux.seccomp as OciSeccomp)).not.toContain("mount");
    const admin = buildContainerSpec(
      withSecurity({
        seccomp: { profileType: "RuntimeDefault" },
        capabilities: { addCapabilities: ["SYS_ADMIN"] },
      }),
    );
    expect(allowed(admin.linux.seccomp as OciSeccomp)).toContain("mount");
  });
  it("leaves it out for no profile, Unconfined and privileged", () => {
    expect(buildContainerSpec(input()).linux.seccomp).toBeUndefined();
    expect(
      buildContainerSpec(withSecurity({ seccomp: { profileType: "Unconfined" } })).linux.seccomp,
    ).toBeUndefined();
    expect(
      buildContainerSpec(withSecurity({ privileged: true, seccompProfilePath: "runtime/default" })).linux
        .seccomp,
    ).toBeUndefined();
  });
  it("renders a loaded Localhost profile, and refuses one that was not loaded", () => {
    const sec = { seccomp: { profileType: "Localhost", localhostRef: "/p.json" } };
    const file = parseSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[]}', "/p.json");
    expect(buildContainerSpec({ ...withSecurity(sec), localhostSeccomp: file }).linux.seccomp).toEqual({
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [],
    });
    expect(() => buildContainerSpec(withSecurity(sec))).toThrow(/"\/p.json" was not loaded/);
  });
  it("gives the pod's infra the pod-level profile, with no capability groups", () => {
    const config = {
      metadata: { name: "p" },
      linux: { securityContext: { seccomp: { profileType: "RuntimeDefault" as const } } },
    };
    const base = {
      id: "s",
      modes: podNamespaceModes(config),
      pausePath: "/p",
      hostname: "h",
      cgroupsPath: "/x",
    };
    const spec = buildSandboxSpec({ ...base, config, seccompHost: X64 });
    expect(spec.linux.seccomp?.defaultErrnoRet).toBe(1);
    expect(allowed(spec.linux.seccomp as OciSeccomp)).not.toContain("chroot");
    const privileged = { metadata: { name: "p" }, linux: { securityContext: { privileged: true } } };
    expect(buildSandboxSpec({ ...base, config: privileged }).linux.seccomp).toBeUndefined();
    expect(buildSandboxSpec({ ...base, config: { metadata: { name: "p" } } }).linux.seccomp).toBeUndefined();
  });
  it("privileged and ALL mean the host's bounding set", () => {
    const host = DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_KILL");
    expect(resolveCapabilities(undefined, true, host)).toEqual(expect.not.arrayContaining(["CAP_KILL"]));
    expect(resolveCapabilities({ addCapabilities: ["ALL"] }, false, host)).toHaveLength(host.length);
  });
});

describe("parseSeccompProfile", () => {
  const parse = (o: unknown) => parseSeccompProfile(JSON.stringify(o), "/etc/p.json");
  it("accepts an OCI LinuxSeccomp", () => {
    const p = parse({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [
        { names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] },
      ],
    });
    expect(renderSeccompProfile(p, [], X64)).toEqual({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 1,
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [
        { names: ["read"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }] },
      ],
    });
  });
  it("honours moby's archMap and includes/excludes instead of applying every rule", () => {
    const p = parse({
      defaultAction: "SCMP_ACT_ERRNO",
      archMap: [
        { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86"] },
        { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
      ],
      syscalls: [
        { names: ["read"], action: "SCMP_ACT_ALLOW" },
        { names: ["mount"], action: "SCMP_ACT_ALLOW", includes: { caps: ["CAP_SYS_ADMIN"] } },
        { name: "uname", action: "SCMP_ACT_ALLOW", excludes: { arches: ["arm64"] } },
      ],
    });
    const x = renderSeccompProfile(p, [], X64);
    expect(x.architectures).toEqual(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]);
    expect(x.syscalls?.map((r) => r.names[0])).toEqual(["read", "uname"]);
    expect(renderSeccompProfile(p, ["CAP_SYS_ADMIN"], ARM64).syscalls?.map((r) => r.names[0])).toEqual([
      "read",
      "mount",
    ]);
  });
  it("refuses what runc would reject, naming the file and the field", () => {
    expect(() => parseSeccompProfile("{", "/etc/p.json")).toThrow(
      /seccomp profile "\/etc\/p.json": not valid JSON/,
    );
    expect(() => parse([])).toThrow(/expected a JSON object/);
    expect(() => parse({ defaultAction: "ALLOW" })).toThrow(/defaultAction: expected one of SCMP_ACT_KILL/);
    expect(() =>
      parse({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["a"], action: "SCMP_ACT_ALLOW" }, { names: [] }],
      }),
    ).toThrow(/syscalls\[1\]\.names: expected a non-empty array/);
    expect(() =>
      parse({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["a"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 1, op: "EQ" }] }],
      }),
    ).toThrow(/syscalls\[0\]\.args\[0\]\.op/);
    expect(() => parse({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["x86_64"] })).toThrow(
      /architectures/,
    );
    try {
      parse({ defaultAction: 1 });
    } catch (err) {
      expect(err).toMatchObject({ code: "InvalidArgument" });
    }
  });
});
