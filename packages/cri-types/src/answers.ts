/**
 * Answers that stay the same frozen object while what they say is unchanged. The encoders below the
 * services keep what they make of a frozen object by its identity (cri-messages its wire object,
 * cri-grpc its protobuf bytes), so an unchanged answer is encoded once and then only copied out: a
 * kubelet asks for the same lists and statuses every second, and mostly nothing changed (issue #13).
 * Both caches hold only what their keys keep alive.
 */

/**
 * One frozen answer per view, made on first use: a status answer (`{ status }`) around a frozen
 * status view that is itself rebuilt only when its container changes.
 *
 * @example
 * const answers = new ViewAnswers((status: ContainerStatus) => ({ status }));
 * answers.of(view) === answers.of(view); // true: the same frozen { status: view }
 */
export class ViewAnswers<V extends object, A extends object> {
  readonly #answers = new WeakMap<V, A>();
  constructor(private readonly wrap: (view: V) => A) {}

  of(view: V): A {
    let answer = this.#answers.get(view);
    if (answer === undefined) {
      answer = Object.freeze(this.wrap(view));
      this.#answers.set(view, answer);
    }
    return answer;
  }
}

/**
 * A list's answer, made again only when an item changed: while the items are the same objects in the
 * same order as the last answer's (of the same owner, e.g. a runtime's context), that answer is
 * handed out again. The items should be frozen views; a new answer and its list are frozen here.
 * A list is given whole (`of`) or item by item (`begin`, `add`, then `answer`): the items added go
 * into an array kept for the next list, so an unchanged list built that way allocates nothing.
 *
 * @example
 * const lists = new ListAnswers((containers: readonly Container[]) => ({ containers }));
 * const a = lists.of(ctx, [view1, view2]);
 * lists.begin();
 * lists.add(view1);
 * lists.add(view2);
 * lists.answer(ctx) === a; // true
 * lists.of(ctx, [view1]) === a; // false: a new answer, kept as the last one
 */
export class ListAnswers<T, A extends object> {
  readonly #last = new WeakMap<object, { items: readonly T[]; answer: A }>();
  /** The items added since begin(): its first `#added`. */
  readonly #adding: T[] = [];
  #added = 0;
  constructor(private readonly wrap: (items: readonly T[]) => A) {}

  /** The answer for `items`. */
  of(owner: object, items: readonly T[]): A {
    return this.#answer(owner, items, items.length);
  }

  /** Starts a list (what a list abandoned by a throw had added is dropped). */
  begin(): void {
    this.#added = 0;
  }

  /** Adds the next item of the list begun. Begin, add and answer without awaiting in between. */
  add(item: T): void {
    this.#adding[this.#added++] = item;
  }

  /** The answer for the items added since begin(). */
  answer(owner: object): A {
    const count = this.#added;
    this.#added = 0;
    const answer = this.#answer(owner, this.#adding, count);
    if (this.#adding.length > count) this.#adding.length = count; // no item kept beyond this list
    return answer;
  }

  #answer(owner: object, items: readonly T[], count: number): A {
    const last = this.#last.get(owner);
    if (last !== undefined && sameItems(last.items, items, count)) return last.answer;
    const frozen = Object.freeze(items.slice(0, count));
    const answer = Object.freeze(this.wrap(frozen));
    this.#last.set(owner, { items: frozen, answer });
    return answer;
  }
}

/** Whether `last` is the first `count` of `items`. */
function sameItems<T>(last: readonly T[], items: readonly T[], count: number): boolean {
  if (last.length !== count) return false;
  for (let i = 0; i < count; i++) if (last[i] !== items[i]) return false;
  return true;
}
