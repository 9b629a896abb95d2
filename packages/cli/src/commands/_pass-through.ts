/**
 * Command lines that end with a command for the container (`servin run [flags] IMAGE CMD ARGS…`,
 * `servin exec [flags] ID CMD ARGS…`): as docker, nerdctl and podman read them, servin's own flags
 * stop at the first positional word; everything after it (after an optional `--`) is the command's,
 * flags included. citty would take `-la` in `exec ID ls -la` for its own, so these commands parse here.
 */
import type { ArgsDef } from "citty";
import { rejectUnknownFlags } from "../_strict-flags.js";

export interface CommandLine {
  /** The leading positional words (IMAGE, or ID). */
  positionals: string[];
  /** Everything after them: the command and its arguments, untouched. */
  command: string[];
  /** Each string flag's values in order (repeatable flags keep all), by the flag's name in `args`. */
  strings: Map<string, string[]>;
  /** The boolean flags given (by name in `args`), with their value (`--no-X` is false). */
  booleans: Map<string, boolean>;
}

/**
 * Splits `rawArgs` for a command taking `leading` positionals then a pass-through command. Unknown
 * flags before the first positional are refused (the strict-flags rule); none after it are looked at.
 *
 * @example
 * parseCommandLine({ env: { type: "string", alias: "e" } }, ["-e", "A=1", "busybox", "ls", "-la"], 1);
 * // { positionals: ["busybox"], command: ["ls", "-la"], strings: Map { env => ["A=1"] }, booleans: Map {} }
 */
export function parseCommandLine(args: ArgsDef, rawArgs: readonly string[], leading: number): CommandLine {
  const names = new Map<string, string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    names.set(name, name);
    const alias = (def as { alias?: string | string[] }).alias;
    for (const a of alias === undefined ? [] : Array.isArray(alias) ? alias : [alias]) names.set(a, name);
  }
  const isBoolean = (name: string) => args[name]?.type === "boolean";
  const line: CommandLine = { positionals: [], command: [], strings: new Map(), booleans: new Map() };
  const addString = (name: string, value: string | undefined) => {
    if (value === undefined) throw new Error(`flag "--${name}" needs a value`);
    line.strings.set(name, [...(line.strings.get(name) ?? []), value]);
  };

  let i = 0;
  let own = rawArgs.length;
  for (; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") {
      // `--` ends servin's flags: the positionals still missing come next, then the command
      own = i;
      i++;
      while (line.positionals.length < leading && i < rawArgs.length) line.positionals.push(rawArgs[i++]!);
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      line.positionals.push(arg);
      if (line.positionals.length === leading) {
        own = i;
        i++;
        if (rawArgs[i] === "--") i++;
        break;
      }
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const written = arg.slice(2, eq < 0 ? undefined : eq);
      const negated = written.startsWith("no-") && isBoolean(written.slice(3)) ? written.slice(3) : undefined;
      const name = names.get(written) ?? negated;
      if (!name) continue; // refused below, by rejectUnknownFlags, with its suggestion
      if (isBoolean(name)) line.booleans.set(name, negated === undefined && arg.slice(eq + 1) !== "false");
      else addString(name, eq >= 0 ? arg.slice(eq + 1) : rawArgs[++i]);
      continue;
    }
    // -it, -e A=1, -eA=1
    for (let j = 1; j < arg.length; j++) {
      const name = names.get(arg[j]!);
      if (!name) break;
      if (isBoolean(name)) {
        line.booleans.set(name, true);
        continue;
      }
      addString(name, j < arg.length - 1 ? arg.slice(j + 1) : rawArgs[++i]);
      break;
    }
  }
  rejectUnknownFlags(args, rawArgs.slice(0, own));
  line.command = rawArgs.slice(i);
  return line;
}
