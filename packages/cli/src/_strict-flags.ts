/**
 * Unknown flags are errors: citty parses with `strict: false` and silently drops a misspelt flag
 * (`--namspace`), so every leaf command checks its raw arguments against its definition first.
 */
import type { ArgsDef } from "citty";
import { suggest } from "./_suggest.js";

/**
 * A flag the command does not define, with the closest defined one. `command` ("servin ps") is
 * filled in by the runner, which knows the path the words took.
 */
export class UnknownFlagError extends Error {
  readonly code = "E_UNKNOWN_FLAG";
  constructor(
    readonly flag: string,
    readonly suggestion: string | undefined,
    readonly group?: string,
    command?: string,
  ) {
    super(UnknownFlagError.text(flag, suggestion, group, command));
  }

  /** The same error, naming the command it was given to. */
  forCommand(command: string): UnknownFlagError {
    return new UnknownFlagError(this.flag, this.suggestion, this.group, command);
  }

  private static text(flag: string, suggestion?: string, group?: string, command?: string): string {
    return [
      `unknown flag "${flag}"`,
      group ? ` in "${group}"` : "",
      command ? ` for "${command}"` : "",
      suggestion ? `: did you mean "${suggestion}"?` : "",
    ].join("");
  }
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Throws naming the first flag in `rawArgs` (up to `--`) that `args` does not define. A string flag's
 * value is skipped (`--port 80`, `--port=80`, `-p80`); `--no-X` is accepted for boolean X (citty's negation).
 *
 * @example
 * rejectUnknownFlags({ all: { type: "boolean", alias: "a" } }, ["ps", "--al"]); // throws: unknown flag "--al"
 */
export function rejectUnknownFlags(args: ArgsDef, rawArgs: readonly string[]): void {
  const types = new Map<string, string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const type = def.type ?? "string";
    for (const spelling of [name, kebab(name), camel(name)]) types.set(spelling, type);
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const alias of aliases) types.set(alias, type);
  }
  const takesValue = (name: string) => types.get(name) !== "boolean";
  const longNames = [...types.keys()].filter((name) => name.length > 1 && name === kebab(name));
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") return;
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) continue;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      if (types.has(name)) {
        if (eq < 0 && takesValue(name)) i++;
        continue;
      }
      if (name.startsWith("no-") && types.get(name.slice(3)) === "boolean" && eq < 0) continue;
      const near = suggest(name, longNames);
      throw new UnknownFlagError(`--${name}`, near === undefined ? undefined : `--${near}`);
    }
    // a group of one-letter flags (-it); a value flag takes the rest of the word or the next word
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      if (!types.has(letter)) {
        // `-all` for `--all` (a long flag with one dash) is a common slip: suggest the long flag
        const near = arg.length > 2 && j === 1 ? suggest(arg.slice(1), longNames) : undefined;
        throw new UnknownFlagError(
          `-${letter}`,
          near === undefined ? undefined : `--${near}`,
          arg.length > 2 ? arg : undefined,
        );
      }
      if (takesValue(letter)) {
        if (j === arg.length - 1) i++;
        break;
      }
    }
  }
}
