/**
 * A fixed set of equal slots handed out one at a time, with waiters served in
 * arrival order when all are taken. The driver carves its DMA memory into such slots
 * (a transfer's data plus its PRP list pages), so concurrent transfers never share
 * memory and the pinned amount stays fixed however many are queued.
 */
export class SlotPool {
  readonly size: number;
  readonly #free: number[] = [];
  readonly #waiters: ((slot: number) => void)[] = [];

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slot pool size ${size}`);
    this.size = size;
    for (let i = size - 1; i >= 0; i--) this.#free.push(i);
  }

  get available(): number {
    return this.#free.length;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** A free slot, now or once one is released. */
  acquire(): Promise<number> {
    const slot = this.#free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Gives `slot` back (to the longest waiter, if any). */
  release(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.size || this.#free.includes(slot)) {
      throw new RangeError(`slot ${slot} is not taken`);
    }
    const w = this.#waiters.shift();
    if (w !== undefined) w(slot);
    else this.#free.push(slot);
  }
}
