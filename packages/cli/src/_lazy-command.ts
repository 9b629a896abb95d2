/**
 * A leaf command whose module is imported only when it runs or shows its own help: its name and
 * description live in the command tree, so `servin --help` lists every command without loading one.
 */
import type { ArgsDef, CommandContext, CommandDef } from "citty";

export interface LazyMeta {
  name: string;
  description: string;
}

/**
 * Wraps `load` (a dynamic import) as a citty command; the module loads at most once.
 * Only for leaves: a command with sub-commands stays a plain object whose leaves are lazy.
 *
 * @example
 * const ps = lazyCommand({ name: "ps", description: "List containers" },
 *   () => import("./commands/containers.js").then((m) => m.psCommand));
 */
export function lazyCommand<T extends ArgsDef>(
  meta: LazyMeta,
  load: () => Promise<CommandDef<T>>,
): CommandDef {
  let loading: Promise<CommandDef<T>> | undefined;
  const command = () => {
    loading ??= load();
    return loading;
  };
  const resolveArgs = async (): Promise<ArgsDef> => {
    const args = (await command()).args;
    return (typeof args === "function" ? await args() : await args) ?? {};
  };
  return {
    meta,
    args: resolveArgs,
    setup: async (ctx) => (await command()).setup?.(ctx as unknown as CommandContext<T>),
    run: async (ctx) => {
      // citty itself ignores unknown flags; loaded here so `--version` and `--help` stay as small as they are
      const { rejectUnknownFlags } = await import("./_strict-flags.js");
      rejectUnknownFlags(await resolveArgs(), ctx.rawArgs);
      return (await command()).run?.(ctx as unknown as CommandContext<T>);
    },
    cleanup: async (ctx) => (await command()).cleanup?.(ctx as unknown as CommandContext<T>),
  };
}

/**
 * A lazy leaf whose command line ends with a command for the container (`run`, `exec`): the words
 * after IMAGE or ID are that command's, flags included, so the strict-flags check above (which reads
 * every word) is left to the command itself (commands/_pass-through.ts checks the words before them).
 *
 * @example
 * const exec = passThroughCommand({ name: "exec", description: "…" },
 *   () => import("./commands/exec.js").then((m) => m.execCommand));
 */
export function passThroughCommand<T extends ArgsDef>(
  meta: LazyMeta,
  load: () => Promise<CommandDef<T>>,
): CommandDef {
  return {
    ...lazyCommand(meta, load),
    run: async (ctx) => (await load()).run?.(ctx as unknown as CommandContext<T>),
  };
}
