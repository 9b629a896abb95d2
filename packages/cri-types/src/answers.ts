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
 * handed out again. The items should be frozen views. Only the first `count` of `items` are read, and
 * a new answer takes a frozen copy of them: a caller may fill a scratch array it keeps, so that an
 * unchanged list allocates nothing.
 *
 * @example
 * const lists = new ListAnswers((containers: readonly Container[]) => ({ containers }));
 * const a = lists.of(ctx, [view1, view2]);
 * lists.of(ctx, [view1, view2]) === a; // true
 * lists.of(ctx, [view1]) === a; // false: a new answer, kept as the last one
 */
export class ListAnswers<T, A extends object> {
  readonly #last = new WeakMap<object, { items: readonly T[]; answer: A }>();
  constructor(private readonly wrap: (items: readonly T[]) => A) {}

  of(owner: object, items: readonly T[], count = items.length): A {
    const last = this.#last.get(owner);
    if (last !== undefined && sameItems(last.items, items, count)) return last.answer;
    const frozen = Object.freeze(items.slice(0, count));
    const answer = Object.freeze(this.wrap(frozen));
    this.#last.set(owner, { items: frozen, answer });
    return answer;
  }
}

function sameItems<T>(last: readonly T[], items: readonly T[], count: number): boolean {
  if (last.length !== count) return false;
  for (let i = 0; i < count; i++) if (last[i] !== items[i]) return false;
  return true;
}
