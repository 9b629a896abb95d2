/**
 * The CRI views of an index entry (list item, status), built once per version of the entry and frozen.
 *
 * Why this is exact: an entry's record and status objects are swapped whole, never changed in place
 * (saveContainer/saveSandbox persist first, then swap), so the pair of objects identifies what a view
 * was built from; a new pair builds a new view. Why freeze: the encoders after us cache what they make
 * of a frozen object by its identity (cri-messages' wire objects, cri-grpc's bytes), so a container
 * that has not changed is encoded once, not on every ListContainers (issue #13).
 */

interface Versioned {
  readonly record: object;
  readonly status: object;
}

/**
 * Builds a view of an entry on first use for each version of it.
 *
 * @example
 * const statusView = new EntryViews((entry: ContainerEntry) => toStatus(entry));
 * statusView.of(entry) === statusView.of(entry); // true until the entry's status or record is swapped
 */
export class EntryViews<E extends Versioned, V extends object> {
  private readonly views = new WeakMap<object, { record: object; view: V }>();
  constructor(private readonly build: (entry: E) => V) {}

  of(entry: E): V {
    const hit = this.views.get(entry.status);
    if (hit !== undefined && hit.record === entry.record) return hit.view;
    const view = Object.freeze(this.build(entry));
    this.views.set(entry.status, { record: entry.record, view });
    return view;
  }
}
