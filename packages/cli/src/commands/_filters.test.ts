import type { Container, PodSandbox } from "@servin/cri-types";
import { describe, expect, it } from "vitest";
import { containerQuery, flagValues, labelSelector, podQuery } from "./_filters.js";

const container = (id: string, name: string, createdAt: bigint, image = "busybox", imageRef = "sha256:b") =>
  ({ id, metadata: { name }, createdAt, image: { image }, imageRef }) as unknown as Container;
const pod = (id: string, name: string, namespace: string, createdAt: bigint) =>
  ({ id, metadata: { name, namespace, uid: id }, createdAt }) as unknown as PodSandbox;

describe("ps filters", () => {
  it("asks for running containers unless --all, --state, --last or --latest", () => {
    expect(containerQuery({}, []).filter).toEqual({ state: { state: "CONTAINER_RUNNING" } });
    expect(containerQuery({ all: true }, []).filter).toEqual({});
    expect(containerQuery({ last: "2" }, []).filter).toEqual({});
    expect(containerQuery({ latest: true }, []).filter).toEqual({});
    expect(
      containerQuery({ state: "Exited", pod: "p1" }, ["--label", "a=1", "--label=b=2=3"]).filter,
    ).toEqual({
      state: { state: "CONTAINER_EXITED" },
      podSandboxId: "p1",
      labelSelector: { a: "1", b: "2=3" },
    });
  });

  it("selects by name (regexp), image ID, newest first, --last and --latest", async () => {
    const list = [
      container("a", "web", 1n),
      container("b", "db", 3n, "alpine", "sha256:a"),
      container("c", "web-2", 2n),
    ];
    const ids = async (ref: string) => ({ busybox: "sha256:b", alpine: "sha256:a" })[ref];
    const select = (flags: Parameters<typeof containerQuery>[0]) =>
      containerQuery(flags, [])
        .select(list, ids)
        .then((r) => r.map((c) => c.id));
    expect(await select({ all: true })).toEqual(["b", "c", "a"]);
    expect(await select({ all: true, name: "^web" })).toEqual(["c", "a"]);
    expect(await select({ all: true, image: "alpine" })).toEqual(["b"]);
    expect(await select({ all: true, image: "nosuch" })).toEqual([]);
    expect(await select({ last: "2" })).toEqual(["b", "c"]);
    expect(await select({ latest: true })).toEqual(["b"]);
  });

  it("names a bad value and what is allowed", () => {
    expect(() => containerQuery({ state: "sleeping" }, [])).toThrow(
      '--state "sleeping": expected created, running, exited or unknown',
    );
    expect(() => containerQuery({ last: "two" }, [])).toThrow('--last "two": expected a whole number');
    expect(() => containerQuery({ name: "(" }, [])).toThrow('--name "(": not a valid regular expression');
    expect(() => containerQuery({}, ["--label", "novalue"])).toThrow('--label "novalue": expected KEY=VALUE');
    expect(() => flagValues(["--label"], "label")).toThrow("--label: expected a value");
  });
});

describe("pods filters", () => {
  it("asks for a state and labels; selects by name and namespace (regexps), newest first", () => {
    const q = podQuery({ state: "NotReady", namespace: "^kube-" }, ["--label", "app=x"]);
    expect(q.filter).toEqual({ state: { state: "SANDBOX_NOTREADY" }, labelSelector: { app: "x" } });
    const pods = [
      pod("1", "dns", "kube-system", 1n),
      pod("2", "web", "default", 2n),
      pod("3", "proxy", "kube-public", 3n),
    ];
    expect(q.select(pods).map((p) => p.id)).toEqual(["3", "1"]);
    expect(
      podQuery({ name: "^(web|dns)$", last: "1" }, [])
        .select(pods)
        .map((p) => p.id),
    ).toEqual(["2"]);
    expect(
      podQuery({ latest: true }, [])
        .select(pods)
        .map((p) => p.id),
    ).toEqual(["3"]);
    expect(() => podQuery({ state: "running" }, [])).toThrow('--state "running": expected ready or notready');
  });

  it("labelSelector is undefined without labels, and every flag value is kept up to --", () => {
    expect(labelSelector([])).toBeUndefined();
    expect(flagValues(["--label", "a=1", "x", "--", "--label", "b=2"], "label")).toEqual(["a=1"]);
  });
});
