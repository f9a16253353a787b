/**
 * Where the queues' doorbell writes go, with a gate for live migration. Doorbells are
 * posted writes: a device stopped for migration refuses them, and a posted write's
 * refusal comes back to nobody, so a tail or head rung then would be lost. While the
 * gate holds, each doorbell keeps only its latest value (a doorbell is a register, not
 * a queue of events: the newest tail or head says everything the older ones did). On
 * release the held values are written, CQ heads first (they free completion slots),
 * then SQ tails, to the device the driver now talks to.
 */
import type { QueueDoorbells } from "./queue-pair.js";

/** Writes one doorbell register: `value` at BAR offset `offset`. */
export type DoorbellWrite = (offset: number, value: number) => Promise<void>;

export class DoorbellGate {
  #write: DoorbellWrite;
  /** Held values by offset, while holding; `cq` says which kind of doorbell. */
  #held: Map<number, { value: number; cq: boolean }> | undefined;

  constructor(write: DoorbellWrite) {
    this.#write = write;
  }

  /** True while doorbell writes are held. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** Doorbells currently held (distinct registers). */
  get heldCount(): number {
    return this.#held?.size ?? 0;
  }

  /** The doorbells of one queue pair: SQ tail at `sqOffset`, CQ head at `cqOffset`. */
  queue(sqOffset: number, cqOffset: number): QueueDoorbells {
    return {
      sqTail: (v) => this.ring(sqOffset, v, false),
      cqHead: (v) => this.ring(cqOffset, v, true),
    };
  }

  /** Writes a doorbell now, or keeps it (the latest value wins) while holding. */
  ring(offset: number, value: number, cq: boolean): Promise<void> {
    if (this.#held === undefined) return this.#write(offset, value);
    this.#held.set(offset, { value, cq });
    return Promise.resolve();
  }

  /** Starts holding doorbell writes (before the device stops). Idempotent. */
  hold(): void {
    this.#held ??= new Map();
  }

  /**
   * Stops holding and writes the held values, CQ heads then SQ tails, through `write`
   * when given (the destination device after a migration), which is used from now on.
   * The writes are issued in order before anything else can ring.
   */
  async release(write?: DoorbellWrite): Promise<void> {
    if (write !== undefined) this.#write = write;
    const held = this.#held;
    this.#held = undefined;
    if (held === undefined) return;
    const order = [...held].sort(([, a], [, b]) => Number(b.cq) - Number(a.cq));
    const sent = order.map(([offset, { value }]) => this.#write(offset, value));
    await Promise.all(sent);
  }
}
