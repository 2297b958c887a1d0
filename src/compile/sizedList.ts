// A list made at the size it will have, filled in order. Pure.

/**
 * An array grown by push copies itself to a larger store each time it is full (1.5
 * times, and more) and leaves the old one behind as garbage, above 128 KB a large object
 * on fresh pages of its own: at 10,000 containers in 100 groups the tc lists (80,000
 * objects) made about 2 MB of copies, the plumbing lists (30,000 links) about 1 MB. The
 * size is counted first (a pass over the tree); `undefined` when it is not known (the
 * list then grows as an array does).
 */
export class SizedList<T> {
  private readonly items: T[];
  private length = 0;

  /** `miscounted`: what to fix should the items added not match the count (names the counting function). */
  constructor(
    private readonly size: number | undefined,
    private readonly miscounted: string,
  ) {
    this.items = new Array<T>(size ?? 0);
  }

  push(item: T): void {
    this.items[this.length++] = item;
  }

  /** The list, once every item counted was added: holes or extra items are a bug in the count. */
  filled(): T[] {
    if (this.size !== undefined && this.length !== this.size) {
      throw new Error(`compile: ${this.length} objects were added to a list counted for ${this.size}; ${this.miscounted}`);
    }
    return this.items;
  }
}
