import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  envsOf,
  labelsOf,
  mountOf,
  portMappingOf,
  resourcesOf,
  startFailureCode,
  userOf,
} from "./_run-options.js";

describe("servin run's flags", () => {
  it("-e and --env-file: files first, then -e in order; K alone takes this shell's value when set", async () => {
    const dir = await mkdtemp(join(tmpdir(), "servin-env-"));
    try {
      const file = join(dir, "env");
      await writeFile(file, "# comment\nA=file\n\n  B=x=y\nLOCAL\n");
      expect(envsOf(["A=flag", "C=", "UNSET"], [file], { LOCAL: "here" })).toEqual([
        { key: "A", value: "flag" },
        { key: "B", value: "x=y" },
        { key: "LOCAL", value: "here" },
        { key: "C", value: "" },
      ]);
      expect(() => envsOf(["=x"], [], {})).toThrow('--env: expected KEY=VALUE, got "=x"');
      expect(() => envsOf([], [join(dir, "missing")], {})).toThrow(/--env-file .*missing: ENOENT/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("-v HOST:CONTAINER[:ro]", () => {
    expect(mountOf("/data:/mnt:ro", "/")).toEqual({
      hostPath: "/data",
      containerPath: "/mnt",
      readonly: true,
    });
    expect(mountOf("./d:/mnt", "/home/ada")).toEqual({ hostPath: "/home/ada/d", containerPath: "/mnt" });
    expect(() => mountOf("/data", "/")).toThrow('--volume: expected HOST:CONTAINER[:ro], got "/data"');
    expect(() => mountOf("/data:/mnt:rx", "/")).toThrow('expected mode ro or rw, got "rx"');
    expect(() => mountOf("vol:/mnt", "/")).toThrow("named volumes are not supported");
    expect(() => mountOf("/data:mnt", "/")).toThrow('container path must be absolute, got "mnt"');
  });

  it("-p [IP:]HOST:CONTAINER[/proto]", () => {
    expect(portMappingOf("8080:80")).toEqual({ protocol: "TCP", hostPort: 8080, containerPort: 80 });
    expect(portMappingOf("127.0.0.1:53:53/udp")).toEqual({
      protocol: "UDP",
      hostIp: "127.0.0.1",
      hostPort: 53,
      containerPort: 53,
    });
    expect(portMappingOf("[::1]:8443:443")).toMatchObject({ hostIp: "::1", hostPort: 8443 });
    expect(() => portMappingOf("80")).toThrow("--publish: expected [IP:]HOST_PORT:CONTAINER_PORT");
    expect(() => portMappingOf("70000:80")).toThrow("port 70000 out of range");
    expect(() => portMappingOf("80:80/icmp")).toThrow('expected protocol tcp, udp or sctp, got "icmp"');
  });

  it("--label, -u, --memory, --cpus", () => {
    expect(labelsOf(["app=web", "tier", "x=a=b"])).toEqual({ app: "web", tier: "", x: "a=b" });
    expect(userOf("1000:100")).toEqual({ runAsUser: { value: 1000 }, runAsGroup: { value: 100 } });
    expect(userOf("nobody")).toEqual({ runAsUsername: "nobody" });
    expect(() => userOf("nobody:staff")).toThrow("the group must be a number");
    expect(resourcesOf("256m", "0.5")).toEqual({
      memoryLimitInBytes: 256 << 20,
      cpuPeriod: 100_000,
      cpuQuota: 50_000,
    });
    expect(resourcesOf(undefined, undefined)).toBeUndefined();
    expect(() => resourcesOf("lots")).toThrow(
      '--memory: expected a size of at least 6m (like 512m or 1g), got "lots"',
    );
    expect(() => resourcesOf(undefined, "-1")).toThrow(
      '--cpus: expected a number of CPUs like 0.5 or 2, got "-1"',
    );
  });

  it("a process that cannot start: 127 not found, 126 not executable, else 125", () => {
    expect(startFailureCode('exec: "nope": executable file not found in $PATH')).toBe(127);
    expect(startFailureCode('exec: "/x": stat /x: no such file or directory')).toBe(127);
    expect(startFailureCode('exec: "/etc/passwd": permission denied')).toBe(126);
    expect(startFailureCode("image not found")).toBe(125);
  });
});
