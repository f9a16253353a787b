import { VfioError } from "../errors.js";
import type { EventFd } from "../sys/index.js";
import { irqIndexName } from "./vfio-abi.js";

/** One delivery of an interrupt vector: `count` triggers coalesced by the eventfd. */
export interface IrqEvent {
  readonly index: number;
  readonly vector: number;
  readonly count: number;
}

/** How long IrqVector.wait() waits: a timeout, an AbortSignal, or both. */
export interface IrqWaitOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** What a vector asks its device for mask/unmask (VFIO_IRQ_SET_ACTION_MASK/UNMASK). */
export interface IrqControl {
  /** Masks `count` vectors of `index` from `start`. */
  mask(index: number, start: number, count: number): Promise<void>;
  /** Unmasks `count` vectors of `index` from `start`. */
  unmask(index: number, start: number, count: number): Promise<void>;
}

/**
 * One enabled interrupt vector: an eventfd we created and gave to the device with
 * VFIO_IRQ_SET_DATA_EVENTFD | ACTION_TRIGGER. Every signal is reported to `onFire`
 * (the device's 'irq' event) and queued for the async iterator, which yields the
 * number of triggers since the previous step (eventfds coalesce; a count is never lost).
 */
export class IrqVector implements AsyncIterable<number> {
  readonly index: number;
  readonly vector: number;
  readonly #efd: EventFd;
  readonly #control: IrqControl;
  readonly #onFire: (ev: IrqEvent) => void;
  #pending = 0;
  #total = 0;
  #waiters: ((r: IteratorResult<number, undefined>) => void)[] = [];
  #closed = false;

  constructor(
    index: number,
    vector: number,
    efd: EventFd,
    control: IrqControl,
    onFire: (ev: IrqEvent) => void,
  ) {
    this.index = index;
    this.vector = vector;
    this.#efd = efd;
    this.#control = control;
    this.#onFire = onFire;
    efd.onReadable(() => this.#drain());
  }

  /** The eventfd the device signals (-1 once closed). */
  get fd(): number {
    return this.#efd.fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Triggers received and not yet taken by an iterator or wait(). */
  get pending(): number {
    return this.#pending;
  }

  /** Triggers received since the vector was enabled. */
  get total(): number {
    return this.#total;
  }

  get name(): string {
    return `${irqIndexName(this.index)} vector ${this.vector}`;
  }

  /**
   * Resolves with the trigger count once the vector fires; rejects if it is disabled
   * first, with ETIMEDOUT after `timeoutMs`, or with the signal's reason when `signal`
   * aborts. A wait that gives up takes no trigger: the next wait or iterator step gets it.
   */
  async wait(options: IrqWaitOptions = {}): Promise<number> {
    const { timeoutMs, signal } = options;
    signal?.throwIfAborted();
    let r: IteratorResult<number, undefined>;
    if (timeoutMs === undefined && signal === undefined) {
      r = await this.#next();
    } else {
      r = await this.#nextUntil(timeoutMs, signal);
    }
    if (r.done) throw new VfioError("ECANCELED", `${this.name} was disabled while waiting for it`);
    return r.value;
  }

  /** Masks this vector at the device (VFIO_IRQ_SET_ACTION_MASK). */
  mask(): Promise<void> {
    return this.#control.mask(this.index, this.vector, 1);
  }

  /** Unmasks it; for INTx this is the "done handling, re-arm" step after each interrupt. */
  unmask(): Promise<void> {
    return this.#control.unmask(this.index, this.vector, 1);
  }

  /**
   * Iterates the vector's interrupts: each step waits for the next and yields how many
   * arrived since the last step; it ends when the vector is disabled.
   */
  [Symbol.asyncIterator](): AsyncIterator<number, undefined> {
    return {
      next: () => this.#next(),
      return: async () => ({ done: true, value: undefined }),
    };
  }

  /** @internal Stops watching, closes the eventfd and ends every iterator. */
  close(): void {
    if (this.#closed) return;
    this.#drain();
    this.#closed = true;
    this.#efd.close();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w({ done: true, value: undefined });
  }

  #next(): Promise<IteratorResult<number, undefined>> {
    if (this.#pending > 0) {
      const value = this.#pending;
      this.#pending = 0;
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #nextUntil(timeoutMs: number | undefined, signal: AbortSignal | undefined) {
    if (this.#pending > 0 || this.#closed) return this.#next();
    return new Promise<IteratorResult<number, undefined>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter = (r: IteratorResult<number, undefined>) => {
        finish();
        resolve(r);
      };
      const giveUp = (err: unknown) => {
        finish();
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(err);
      };
      const onAbort = () => giveUp(signal?.reason);
      this.#waiters.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () =>
            giveUp(new VfioError("ETIMEDOUT", `${this.name} did not fire within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
    });
  }

  #drain(): void {
    if (this.#closed) return;
    const n = this.#efd.read();
    if (n === null || n === 0n) return;
    const count = n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
    this.#total += count;
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      const value = this.#pending + count;
      this.#pending = 0;
      waiter({ done: false, value });
    } else {
      this.#pending += count;
    }
    this.#onFire({ index: this.index, vector: this.vector, count });
  }
}
