/**
 * The built `servin` binary's `completion`, `config check|default` and `events` (its ends), with no
 * real containers needed (the memory backend): bash completion sourced in bash and driven through
 * COMP_WORDS, completion scripts that name every command of the tree, a default config that `config
 * check` accepts and `cri start` starts with, and the event stream ending when servin goes away.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CommandDef } from "citty";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, BINARY, removeDir, runCli, startServin } from "../../../apps/servin/test/_binary.js";
import { completionTree } from "../src/commands/completion.js";
import { defaultConfig, loadConfigFile } from "../src/config/config.js";
import { servinCommand } from "../src/main.js";

const execFileP = promisify(execFile);
let dir: string;
beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), "servin-completion-e2e-"));
});
afterAll(async () => {
  if (dir) await removeDir(dir);
});

/** What bash completes for `words` (the last one being completed), with the script `servin completion bash` printed. */
async function bashComplete(script: string, words: string[]): Promise<string[]> {
  const file = join(dir, "servin.bash");
  await writeFile(file, script);
  const driver = `source ${JSON.stringify(file)}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _servin_completion; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await execFileP("bash", ["-c", driver]);
  return stdout.split("\n").filter(Boolean);
}

describe("servin completion", () => {
  it("bash: `servin p` offers pull, pods, ps and port-forward; sub-commands and flags at every level", async () => {
    const r = await runCli(["completion", "bash"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await bashComplete(r.stdout, ["servin", "p"])).toEqual(
      expect.arrayContaining(["pull", "pods", "ps", "port-forward"]),
    );
    expect((await bashComplete(r.stdout, ["servin", "p"])).every((w) => w.startsWith("p"))).toBe(true);
    expect(await bashComplete(r.stdout, ["servin", "cri", "st"])).toEqual(["start", "status"]);
    expect(await bashComplete(r.stdout, ["servin", "config", ""])).toEqual(["check", "default"]);
    expect(await bashComplete(r.stdout, ["servin", "stats", "-"])).toEqual(
      expect.arrayContaining([
        "--all",
        "-a",
        "--output",
        "-o",
        "--seconds",
        "--watch",
        "--pod",
        "--label",
        "--port",
      ]),
    );
    // a positional before the flag does not lose the command
    expect(await bashComplete(r.stdout, ["servin", "update", "abc123", "--cpu"])).toEqual([
      "--cpu-share",
      "--cpu-shares",
      "--cpu-period",
      "--cpu-quota",
      "--cpuset-cpus",
      "--cpuset-mems",
    ]);
  });

  it("bash offers every command of the tree and every flag of each leaf (generated from it)", async () => {
    const r = await runCli(["completion", "bash"]);
    const tree = await completionTree(servinCommand as CommandDef);
    expect(await bashComplete(r.stdout, ["servin", ""])).toEqual(
      Object.keys(servinCommand.subCommands as object),
    );
    for (const node of tree.filter((n) => n.subs.length === 0)) {
      const offered = await bashComplete(r.stdout, ["servin", ...node.path.split(" "), "--"]);
      expect(offered, node.path).toEqual(node.flags.flatMap((f) => f.long.map((l) => `--${l}`)));
    }
  }, 120_000);

  it("zsh and fish scripts name every command path; an unknown shell is refused", async () => {
    const tree = await completionTree(servinCommand as CommandDef);
    const zsh = await runCli(["completion", "zsh"]);
    const fish = await runCli(["completion", "fish"]);
    expect(zsh.stdout.startsWith("#compdef servin\n")).toBe(true);
    for (const node of tree.filter((n) => n.path !== "")) {
      expect(zsh.stdout).toContain(`'${node.path}')`);
      expect(fish.stdout).toContain(`'${node.path}'`);
    }
    expect(fish.stdout).toContain(
      "complete -c servin -n '__servin_at '\\''stats'\\''' -l 'output' -s 'o' -r",
    );
    if (existsSync("/usr/bin/zsh")) await execFileP("zsh", ["-n", "-c", zsh.stdout]);
    const bad = await runCli(["completion", "tcsh"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('completion: expected bash, zsh or fish, got "tcsh"');
  });
});

describe("servin config", () => {
  it("default prints every key with its default; check accepts it and cri start starts with it", async () => {
    const r = await runCli(["config", "default"]);
    expect(r.code, r.stderr).toBe(0);
    const file = join(dir, "default.toml");
    await writeFile(file, r.stdout);
    const check = await runCli(["config", "check", "--config", file]);
    expect(check, check.stderr).toMatchObject({ code: 0, stdout: `${file}: OK\n` });
    // the file holds every setting the config file can carry, at its default
    const fromFile = await loadConfigFile(file, true);
    const {
      verbose: _flagOnly,
      runtimes: _none,
      registries: _perHost,
      imageLimits: _caps,
      ...settings
    } = defaultConfig();
    expect(fromFile).toEqual(settings);
    const servin = await startServin(["--backend", "memory", "--image-backend", "memory"], { config: file });
    try {
      expect((await runCli(["version", "--port", String(servin.port)])).code).toBe(0);
    } finally {
      expect(await servin.stop("SIGTERM")).toBe(0);
      await removeDir(servin.dir);
    }
  }, 90_000);

  it("check refuses an unknown key, a bad value and a non-loopback host without a token, naming them (exit 1)", async () => {
    const cases: [string, string][] = [
      ["[server]\nprot = 9999\n", "server.prot: unknown key"],
      ["[storge]\nroot = '/x'\n", "storge: unknown section"],
      ["[server]\nport = 99999\n", "server.port: expected an integer 0-65535"],
      [
        "[server]\nhost = '0.0.0.0'\n",
        'server.host: "0.0.0.0" is beyond loopback, which requires server.token_file',
      ],
      ["[server\n", "config file"],
    ];
    for (const [text, expected] of cases) {
      const file = join(dir, "bad.toml");
      await writeFile(file, text);
      const r = await runCli(["config", "check", "--config", file]);
      expect(r.code, text).toBe(1);
      expect(r.stderr, text).toContain(expected);
      expect(r.stderr).toContain(file);
    }
    // `cri start` refuses the same file before it listens, with a suggestion and no glyphs when piped.
    const misspelt = join(dir, "misspelt.toml");
    await writeFile(misspelt, "[storge]\nroot = '/x'\n");
    const start = await runCli(["cri", "start", "--config", misspelt, "--port", "0", "--no-grpc"]);
    expect(start.code).toBe(1);
    expect(start.stderr).toContain(
      `config file ${misspelt}: storge: unknown section, did you mean "storage"?`,
    );
    expect(start.stderr).toMatch(/^error: /);
    expect(start.stderr).not.toMatch(/\x1b|✖|ERROR/);
    const missing = await runCli(["config", "check", "--config", join(dir, "nope.toml")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot read config file ${join(dir, "nope.toml")}`);
  });
});

describe("servin events", () => {
  it("prints each event as it happens and ends with a clear error when servin goes away (exit 1)", async () => {
    const servin = await startServin(["--backend", "memory", "--image-backend", "memory"]);
    const port = ["--port", String(servin.port)];
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [BINARY, "events", "-o", "yaml", ...port], {
        env: { ...process.env, NO_COLOR: "1" },
      });
      let out = "";
      let err = "";
      child.stdout!.on("data", (d) => (out += d));
      child.stderr!.on("data", (d) => (err += d));
      const closed = new Promise<number | null>((done) => child!.on("close", done));
      await writeFile(join(servin.dir, "pod.yaml"), "metadata:\n  name: ev\n  uid: ev-uid\n");
      await writeFile(
        join(servin.dir, "c.json"),
        JSON.stringify({ metadata: { name: "c" }, image: { image: "busybox" } }),
      );
      expect((await runCli(["pull", "busybox", ...port])).code).toBe(0);
      // events subscribes asynchronously: create containers until one is seen
      let id = "";
      for (let i = 0; i < 50 && !(id && out.includes(id)); i++) {
        const podId = (await runCli(["runp", join(servin.dir, "pod.yaml"), ...port])).stdout.trim();
        const created = await runCli([
          "create",
          podId,
          join(servin.dir, "c.json"),
          join(servin.dir, "pod.yaml"),
          ...port,
        ]);
        expect(created.code, created.stderr).toBe(0);
        id = created.stdout.trim();
        await runCli(["rmp", podId, ...port]);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toContain(`---\ncontainer_id: ${id}\ncontainer_event_type: CONTAINER_CREATED_EVENT\n`);
      expect(await servin.stop("SIGTERM")).toBe(0);
      expect(await closed).toBe(1);
      expect(err).toContain(`the event stream ended: servin at http://127.0.0.1:${servin.port} went away`);
    } finally {
      child?.kill("SIGKILL");
      await servin.stop("SIGKILL");
      await removeDir(servin.dir);
    }
  }, 90_000);
});
