/**
 * The filters of `servin ps` and `servin pods`, as crictl applies them: state, labels and pod go to the
 * server in the CRI filter; name and namespace (regular expressions), image, `--last N` and `--latest`
 * are applied here, newest first. Every bad value is an error naming it and what is allowed.
 */
import type { Container, ContainerFilter, PodSandbox, PodSandboxFilter } from "@servin/cri-types";

const CONTAINER_STATES = {
  created: "CONTAINER_CREATED",
  running: "CONTAINER_RUNNING",
  exited: "CONTAINER_EXITED",
  unknown: "CONTAINER_UNKNOWN",
} as const;

const POD_STATES = { ready: "SANDBOX_READY", notready: "SANDBOX_NOTREADY" } as const;

/** Every value of a repeatable string flag (`--label a=1 --label b=2`), up to `--`; citty keeps only the last. */
export function flagValues(rawArgs: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (arg === `--${name}`) {
      const value = rawArgs[i + 1];
      if (value === undefined) throw new Error(`--${name}: expected a value`);
      values.push(value);
      i++;
    } else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3));
  }
  return values;
}

/**
 * `KEY=VALUE` pairs as a CRI label selector (every pair must match).
 *
 * @example
 * labelSelector(["app=web", "tier=front"]); // { app: "web", tier: "front" }
 */
export function labelSelector(pairs: readonly string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  const selector: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--label "${pair}": expected KEY=VALUE`);
    selector[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return selector;
}

function regexp(flag: string, source: string | undefined): RegExp | undefined {
  if (!source) return undefined;
  try {
    return new RegExp(source);
  } catch (err) {
    throw new Error(`--${flag} "${source}": not a valid regular expression (${(err as Error).message})`);
  }
}

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n))
    throw new Error(`--${flag} "${value}": expected a whole number`);
  return n;
}

/** Newest first; then the first `last` (or 1 with `latest`) of them. crictl sorts the same way. */
function newest<T extends { createdAt: bigint }>(items: T[], last: number | undefined, latest: boolean): T[] {
  const sorted = [...items].sort((a, b) =>
    a.createdAt === b.createdAt ? 0 : a.createdAt > b.createdAt ? -1 : 1,
  );
  const n = latest ? 1 : last && last > 0 ? last : sorted.length;
  return sorted.slice(0, n);
}

export interface ContainerListFlags {
  all?: boolean;
  state?: string;
  name?: string;
  pod?: string;
  image?: string;
  last?: string;
  latest?: boolean;
}

/** What `servin ps` asks the server for, and how it narrows the answer. */
export interface ContainerQuery {
  filter: ContainerFilter;
  /** Applied to the server's answer; `imageId` resolves an image reference to its ID (undefined: absent). */
  select(
    containers: Container[],
    imageId: (ref: string) => Promise<string | undefined>,
  ): Promise<Container[]>;
}

/**
 * @example
 * const q = containerQuery({ state: "exited" }, ["--label", "app=web"]);
 * q.filter; // { state: { state: "CONTAINER_EXITED" }, labelSelector: { app: "web" } }
 */
export function containerQuery(flags: ContainerListFlags, rawArgs: readonly string[]): ContainerQuery {
  let state: ContainerFilter["state"];
  if (flags.state) {
    const found = CONTAINER_STATES[flags.state.toLowerCase() as keyof typeof CONTAINER_STATES];
    if (!found) throw new Error(`--state "${flags.state}": expected created, running, exited or unknown`);
    state = { state: found };
  }
  const last = count("last", flags.last);
  const latest = flags.latest === true;
  // crictl: running only, unless --all, --state, --last or --latest says otherwise
  if (!state && !flags.all && !latest && last === undefined) state = { state: "CONTAINER_RUNNING" };
  const labels = labelSelector(flagValues(rawArgs, "label"));
  const name = regexp("name", flags.name);
  const filter: ContainerFilter = {
    ...(state ? { state } : {}),
    ...(flags.pod ? { podSandboxId: flags.pod } : {}),
    ...(labels ? { labelSelector: labels } : {}),
  };
  return {
    filter,
    async select(containers, imageId) {
      let kept = name ? containers.filter((c) => name.test(c.metadata.name)) : containers;
      if (flags.image) {
        // crictl's matchesImage: the filter and the container's image resolve to the same image ID
        const wanted = await imageId(flags.image);
        const ids = new Map<string, string | undefined>();
        const idOf = async (ref: string) => {
          if (!ids.has(ref)) ids.set(ref, await imageId(ref));
          return ids.get(ref);
        };
        const matches = await Promise.all(
          kept.map(async (c) =>
            wanted === undefined
              ? c.image.image === flags.image
              : c.imageId === wanted || c.imageRef === wanted || (await idOf(c.image.image)) === wanted,
          ),
        );
        kept = kept.filter((_, i) => matches[i]);
      }
      return newest(kept, last, latest);
    },
  };
}

export interface PodListFlags {
  state?: string;
  name?: string;
  namespace?: string;
  last?: string;
  latest?: boolean;
}

/** What `servin pods` asks the server for, and how it narrows the answer. */
export interface PodQuery {
  filter: PodSandboxFilter;
  select(pods: PodSandbox[]): PodSandbox[];
}

/**
 * @example
 * podQuery({ state: "ready", namespace: "^kube-" }, []).filter; // { state: { state: "SANDBOX_READY" } }
 */
export function podQuery(flags: PodListFlags, rawArgs: readonly string[]): PodQuery {
  let state: PodSandboxFilter["state"];
  if (flags.state) {
    const found = POD_STATES[flags.state.toLowerCase() as keyof typeof POD_STATES];
    if (!found) throw new Error(`--state "${flags.state}": expected ready or notready`);
    state = { state: found };
  }
  const labels = labelSelector(flagValues(rawArgs, "label"));
  const name = regexp("name", flags.name);
  const namespace = regexp("namespace", flags.namespace);
  const last = count("last", flags.last);
  return {
    filter: { ...(state ? { state } : {}), ...(labels ? { labelSelector: labels } : {}) },
    select(pods) {
      const kept = pods.filter(
        (p) =>
          (!name || name.test(p.metadata.name)) && (!namespace || namespace.test(p.metadata.namespace ?? "")),
      );
      return newest(kept, last, flags.latest === true);
    },
  };
}
