import { VfioError } from "../errors.js";

/**
 * One stored interval: the half-open range [start, end) with end = start + size.
 * Entries are immutable; the map hands out the same object for the life of the entry.
 */
export interface Interval<V> {
  readonly start: bigint;
  readonly size: bigint;
  readonly end: bigint;
  readonly value: V;
}

/** Instrumentation of an IntervalMap. */
export interface IntervalMapOptions {
  /**
   * Called once per key comparison made while walking the tree. Exists so tests can
   * prove lookups are logarithmic by counting work instead of timing it.
   */
  onCompare?: () => void;
}

interface Node<V> {
  entry: Interval<V>;
  left: Node<V> | null;
  right: Node<V> | null;
  height: number;
}

function height<V>(n: Node<V> | null): number {
  return n === null ? 0 : n.height;
}

function update<V>(n: Node<V>): void {
  n.height = Math.max(height(n.left), height(n.right)) + 1;
}

function rotateRight<V>(n: Node<V>): Node<V> {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  update(n);
  update(l);
  return l;
}

function rotateLeft<V>(n: Node<V>): Node<V> {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  update(n);
  update(r);
  return r;
}

function rebalance<V>(n: Node<V>): Node<V> {
  update(n);
  const balance = height(n.left) - height(n.right);
  if (balance > 1) {
    if (height(n.left!.left) < height(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (balance < -1) {
    if (height(n.right!.right) < height(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

/**
 * Ordered map of non-overlapping half-open intervals keyed by bigint start, kept in an
 * AVL tree. Because intervals never overlap, ordering by start also orders by end, which
 * lets "first interval that ends after x" (the basis of find, findOverlap and range) be
 * answered in one root-to-leaf descent: O(log n) per lookup, O(log n + k) per range.
 *
 * Mutating the map while a range()/iterator walk is in progress is not supported: the
 * iterator holds a path into the tree. Collect first, or re-lookup after each removal.
 */
export class IntervalMap<V> implements Iterable<Interval<V>> {
  #root: Node<V> | null = null;
  #count = 0;
  readonly #onCompare: (() => void) | undefined;

  constructor(options: IntervalMapOptions = {}) {
    this.#onCompare = options.onCompare;
  }

  /** Number of intervals stored. */
  get size(): number {
    return this.#count;
  }

  /** Height of the tree (0 when empty); exposed for balance assertions in tests. */
  get height(): number {
    return height(this.#root);
  }

  /**
   * Inserts [start, start+size). Throws VfioError EINVAL when size <= 0 and EEXIST when
   * the interval intersects a stored one. Returns the stored entry.
   */
  insert(start: bigint, size: bigint, value: V): Interval<V> {
    if (size <= 0n) throw new VfioError("EINVAL", `interval size must be positive, got ${size}`);
    const entry: Interval<V> = { start, size, end: start + size, value };
    this.#root = this.#insert(this.#root, entry);
    this.#count++;
    return entry;
  }

  /** The interval containing addr, if any. */
  find(addr: bigint): Interval<V> | undefined {
    const n = this.#firstEndingAfter(addr);
    return n !== null && n.entry.start <= addr ? n.entry : undefined;
  }

  /** The lowest interval intersecting [start, start+size); undefined when none or size <= 0. */
  findOverlap(start: bigint, size: bigint): Interval<V> | undefined {
    if (size <= 0n) return undefined;
    const n = this.#firstEndingAfter(start);
    return n !== null && n.entry.start < start + size ? n.entry : undefined;
  }

  /** The interval that starts exactly at start, if any. */
  get(start: bigint): Interval<V> | undefined {
    let n = this.#root;
    while (n !== null) {
      this.#onCompare?.();
      if (start === n.entry.start) return n.entry;
      n = start < n.entry.start ? n.left : n.right;
    }
    return undefined;
  }

  /** Removes the interval starting exactly at start; returns it, or undefined if absent. */
  remove(start: bigint): Interval<V> | undefined {
    let removed: Interval<V> | undefined;
    const del = (n: Node<V> | null): Node<V> | null => {
      if (n === null) return null;
      this.#onCompare?.();
      if (start < n.entry.start) {
        n.left = del(n.left);
      } else if (start > n.entry.start) {
        n.right = del(n.right);
      } else {
        removed = n.entry;
        if (n.left === null) return n.right;
        if (n.right === null) return n.left;
        // Replace with the in-order successor, detached from the right subtree.
        let succ = n.right;
        while (succ.left !== null) succ = succ.left;
        n.entry = succ.entry;
        n.right = removeMin(n.right);
      }
      return rebalance(n);
    };
    this.#root = del(this.#root);
    if (removed !== undefined) this.#count--;
    return removed;
  }

  /** Lowest interval, if any. */
  first(): Interval<V> | undefined {
    let n = this.#root;
    if (n === null) return undefined;
    while (n.left !== null) n = n.left;
    return n.entry;
  }

  /** Highest interval, if any. */
  last(): Interval<V> | undefined {
    let n = this.#root;
    if (n === null) return undefined;
    while (n.right !== null) n = n.right;
    return n.entry;
  }

  /** Removes every interval. */
  clear(): void {
    this.#root = null;
    this.#count = 0;
  }

  /** Intervals intersecting [a, b), in ascending order. Empty when b <= a. */
  *range(a: bigint, b: bigint): IterableIterator<Interval<V>> {
    if (b <= a) return;
    // Build the path to the first interval ending after a: every node where the
    // descent went left is a pending in-order successor.
    const stack: Node<V>[] = [];
    let n = this.#root;
    while (n !== null) {
      this.#onCompare?.();
      if (n.entry.end > a) {
        stack.push(n);
        n = n.left;
      } else {
        n = n.right;
      }
    }
    while (stack.length > 0) {
      const top = stack.pop()!;
      if (top.entry.start >= b) return;
      yield top.entry;
      for (let c = top.right; c !== null; c = c.left) stack.push(c);
    }
  }

  /** All intervals in ascending order. */
  *[Symbol.iterator](): IterableIterator<Interval<V>> {
    const stack: Node<V>[] = [];
    for (let c = this.#root; c !== null; c = c.left) stack.push(c);
    while (stack.length > 0) {
      const top = stack.pop()!;
      yield top.entry;
      for (let c = top.right; c !== null; c = c.left) stack.push(c);
    }
  }

  /** Same as the iterator; reads better at call sites. */
  values(): IterableIterator<Interval<V>> {
    return this[Symbol.iterator]();
  }

  #firstEndingAfter(addr: bigint): Node<V> | null {
    let best: Node<V> | null = null;
    let n = this.#root;
    while (n !== null) {
      this.#onCompare?.();
      if (n.entry.end > addr) {
        best = n;
        n = n.left;
      } else {
        n = n.right;
      }
    }
    return best;
  }

  #insert(n: Node<V> | null, e: Interval<V>): Node<V> {
    if (n === null) return { entry: e, left: null, right: null, height: 1 };
    this.#onCompare?.();
    // The new interval's in-order neighbours all lie on this search path, so checking
    // against each node passed is enough to reject every overlap.
    if (e.end <= n.entry.start) {
      n.left = this.#insert(n.left, e);
    } else if (e.start >= n.entry.end) {
      n.right = this.#insert(n.right, e);
    } else {
      throw new VfioError(
        "EEXIST",
        `interval [0x${e.start.toString(16)}, 0x${e.end.toString(16)}) overlaps ` +
          `[0x${n.entry.start.toString(16)}, 0x${n.entry.end.toString(16)})`,
      );
    }
    return rebalance(n);
  }
}

function removeMin<V>(n: Node<V>): Node<V> | null {
  if (n.left === null) return n.right;
  n.left = removeMin(n.left);
  return rebalance(n);
}
