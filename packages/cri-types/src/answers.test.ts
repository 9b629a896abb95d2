import { describe, expect, it } from "vitest";
import { ListAnswers, ViewAnswers } from "./answers.js";

describe("ViewAnswers", () => {
  it("answers one frozen object per view, a new one for a new view", () => {
    const answers = new ViewAnswers((status: { id: string }) => ({ status }));
    const v1 = Object.freeze({ id: "a" });
    const a = answers.of(v1);
    expect(a).toEqual({ status: v1 });
    expect(Object.isFrozen(a)).toBe(true);
    expect(answers.of(v1)).toBe(a);
    const v2 = Object.freeze({ id: "a" });
    expect(answers.of(v2)).not.toBe(a);
    expect(answers.of(v2).status).toBe(v2);
  });
});

describe("ListAnswers", () => {
  const x = Object.freeze({ id: "x" });
  const y = Object.freeze({ id: "y" });

  it("answers the last answer again while the items are the same objects in the same order", () => {
    const lists = new ListAnswers((items: readonly { id: string }[]) => ({ items }));
    const owner = {};
    const first = lists.of(owner, [x, y]);
    expect(first).toEqual({ items: [x, y] });
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.items)).toBe(true);
    expect(lists.of(owner, [x, y])).toBe(first);
    // Another order, one item fewer, an equal but new item, nothing: each a new answer, then kept.
    const swapped = lists.of(owner, [y, x]);
    expect(swapped).not.toBe(first);
    expect(swapped.items).toEqual([y, x]);
    expect(lists.of(owner, [y])).toEqual({ items: [y] });
    expect(lists.of(owner, [{ id: "y" }])).not.toBe(lists.of(owner, [y]));
    const empty = lists.of(owner, []);
    expect(empty).toEqual({ items: [] });
    expect(lists.of(owner, [])).toBe(empty);
  });

  it("keeps one last answer per owner", () => {
    const lists = new ListAnswers((items: readonly { id: string }[]) => ({ items }));
    const a = {};
    const b = {};
    const ofA = lists.of(a, [x]);
    expect(lists.of(b, [y])).toEqual({ items: [y] });
    expect(lists.of(a, [x])).toBe(ofA);
  });

  it("builds a list item by item into its kept array, the same answer while the items are the same", () => {
    const lists = new ListAnswers((items: readonly { id: string }[]) => ({ items }));
    const owner = {};
    const build = (...items: { id: string }[]) => {
      lists.begin();
      for (const item of items) lists.add(item);
      return lists.answer(owner);
    };
    const first = build(x, y);
    expect(first.items).toEqual([x, y]);
    expect(Object.isFrozen(first.items)).toBe(true);
    expect(build(x, y)).toBe(first);
    expect(lists.of(owner, [x, y])).toBe(first);
    // A shorter list, then the first again: new answers, never the kept array's leftovers.
    expect(build(y).items).toEqual([y]);
    expect(first.items).toEqual([x, y]);
    const again = build(x, y);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    // A list abandoned half-way (a throw between add() calls) leaves nothing in the next one.
    lists.begin();
    lists.add(y);
    expect(build(x).items).toEqual([x]);
  });
});
