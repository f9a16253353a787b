/**
 * The spec's ordering rule for one client: commands are processed strictly in arrival
 * order, asynchronous device handlers included. A command whose handler answers
 * synchronously is handled in the tick it arrived; the first that returns a promise
 * holds the queue until it settles, and commands arriving meanwhile wait behind it.
 */
export class CommandQueue<T> {
  readonly #handle: (item: T) => Promise<void> | undefined;
  readonly #drop: (item: T) => void;
  #items: T[] = [];
  /** A drain is under way (maybe suspended on an async handler): new items queue. */
  #running = false;
  #closed = false;
  readonly #resume = (): void => this.#drain();

  /**
   * `handle` processes one item and returns a promise only while it is still running
   * (it must not reject); `drop` releases an item that will never be handled.
   */
  constructor(handle: (item: T) => Promise<void> | undefined, drop: (item: T) => void) {
    this.#handle = handle;
    this.#drop = drop;
  }

  push(item: T): void {
    if (this.#closed) {
      this.#drop(item);
      return;
    }
    this.#items.push(item);
    if (!this.#running) this.#drain();
  }

  /** No more handling: queued items are dropped now, later ones on arrival. */
  close(): void {
    this.#closed = true;
    for (const item of this.#items.splice(0)) this.#drop(item);
  }

  #drain(): void {
    this.#running = true;
    let pending: Promise<void> | undefined;
    try {
      while (pending === undefined && !this.#closed) {
        const item = this.#items.shift();
        if (item === undefined) break;
        pending = this.#handle(item);
      }
    } finally {
      if (pending === undefined) this.#running = false;
    }
    pending?.then(this.#resume, this.#resume);
  }
}
