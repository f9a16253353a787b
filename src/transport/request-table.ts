import type { Frame } from "./frame.js";

/** One request of ours waiting for its reply. */
export interface Waiter {
  readonly id: number;
  readonly command: number;
  readonly timeoutMs: number;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Marks the id of a request that timed out: its late reply is still expected and dropped. */
export const EXPIRED = Symbol("expired");

const ID_SPACE = 0x10000;

/**
 * Correlates our requests with the peer's replies by 16-bit message id.
 *
 * Ids are handed out round-robin, skipping ids still in use, so an id is reused as late
 * as possible. An id stays in use from the request until its reply arrives, even past a
 * timeout: reusing it earlier would let the late reply settle the wrong request. Ids
 * of timed-out requests are freed by their late reply or when the connection closes;
 * a peer that never answers can thus use up ids, and `request()` then fails with
 * EAGAIN once all 65536 are taken.
 */
export class RequestTable {
  // A Map, not a 65536-slot array: every connection has a table, most never send a
  // request, and filling the array cost each new connection 0.5 MiB and a millisecond.
  private readonly slots = new Map<number, Waiter | typeof EXPIRED>();
  private nextId = 0;
  private used = 0;
  private waiting = 0;

  /** Requests waiting for a reply (timed-out ones excluded). */
  get size(): number {
    return this.waiting;
  }

  /** A free id, or -1 when all 65536 are in use. Does not reserve it. */
  freeId(): number {
    if (this.used >= ID_SPACE) return -1;
    let id = this.nextId;
    while (this.slots.has(id)) id = (id + 1) & 0xffff;
    this.nextId = (id + 1) & 0xffff;
    return id;
  }

  add(w: Waiter): void {
    this.slots.set(w.id, w);
    this.used++;
    this.waiting++;
  }

  /** Remove and return whatever holds `id`: a waiter, EXPIRED, or undefined if nothing. */
  take(id: number): Waiter | typeof EXPIRED | undefined {
    const s = this.slots.get(id);
    if (s === undefined) return undefined;
    this.slots.delete(id);
    this.used--;
    if (s !== EXPIRED) this.waiting--;
    return s;
  }

  /** The request timed out: keep its id reserved for the late reply. False if already settled. */
  expire(w: Waiter): boolean {
    if (this.slots.get(w.id) !== w) return false;
    this.slots.set(w.id, EXPIRED);
    this.waiting--;
    return true;
  }

  /** Empty the table; returns the waiters that were still waiting. */
  drain(): Waiter[] {
    const out: Waiter[] = [];
    if (this.used === 0) return out;
    // In id order, as the array it replaced gave them.
    for (const id of [...this.slots.keys()].sort((a, b) => a - b)) {
      const s = this.slots.get(id)!;
      if (s !== EXPIRED) out.push(s);
    }
    this.slots.clear();
    this.used = 0;
    this.waiting = 0;
    return out;
  }
}
