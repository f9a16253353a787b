/**
 * Command identifiers of one submission queue. A CID must be unique among the
 * commands outstanding on its queue (the controller reports completions by it), so it
 * is allocated at submission and freed only when its completion arrives; a command
 * that timed out keeps its CID until then. The lowest free CID is handed out, so
 * identifiers stay small and readable in traces.
 */
export class CidAllocator {
  readonly capacity: number;
  /** Free CIDs, kept as a min-heap. */
  readonly #heap: number[] = [];
  readonly #used: Uint8Array;
  #inUse = 0;

  /** `capacity` CIDs: 0 .. capacity-1 (at most 65535; 0xFFFF is reserved by the spec). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 0xffff) {
      throw new RangeError(`CID capacity must be in 1..65535, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#used = new Uint8Array(capacity);
    for (let i = 0; i < capacity; i++) this.#heap.push(i);
  }

  get inUse(): number {
    return this.#inUse;
  }

  isAllocated(cid: number): boolean {
    return Number.isInteger(cid) && cid >= 0 && cid < this.capacity && this.#used[cid] === 1;
  }

  /** The lowest free CID, or undefined when all are outstanding. */
  allocate(): number | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    this.#used[top] = 1;
    this.#inUse++;
    return top;
  }

  /** Frees `cid`; false (and nothing changes) when it was not allocated. */
  free(cid: number): boolean {
    if (!this.isAllocated(cid)) return false;
    this.#used[cid] = 0;
    this.#inUse--;
    const heap = this.#heap;
    heap.push(cid);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]! <= heap[i]!) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
    return true;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && heap[l]! < heap[m]!) m = l;
      if (r < heap.length && heap[r]! < heap[m]!) m = r;
      if (m === i) return;
      [heap[m], heap[i]] = [heap[i]!, heap[m]!];
      i = m;
    }
  }
}
