/**
 * Asynchronous Event Requests (NVMe Base 1.4, section 5.2): the host leaves up to
 * AERL+1 of them outstanding, and the controller completes one when an event
 * happens. Events that come while none is outstanding wait for the next request.
 * Only error events are raised: an invalid doorbell register (info 0) or value
 * (info 1), associated with the Error Information log.
 */
import { LOG_ERROR } from "./log-pages.js";

const TYPE_ERROR = 0;
/** Most events kept while the host has no request outstanding. */
const MAX_QUEUED = 16;

export class AsyncEvents {
  readonly limit: number;
  readonly #held: number[] = [];
  readonly #queued: number[] = [];
  readonly #complete: (cid: number, result: number) => void;

  constructor(limit: number, complete: (cid: number, result: number) => void) {
    this.limit = limit;
    this.#complete = complete;
  }

  get outstanding(): number {
    return this.#held.length;
  }

  /** An AER arrived: false when the limit is exceeded (the command then fails). */
  hold(cid: number): boolean {
    if (this.#held.length >= this.limit) return false;
    const event = this.#queued.shift();
    if (event !== undefined) this.#complete(cid, event);
    else this.#held.push(cid);
    return true;
  }

  /** The host wrote an invalid doorbell register (info 0) or value (info 1). */
  doorbellError(info: number): void {
    this.#raise(TYPE_ERROR | (info << 8) | (LOG_ERROR << 16));
  }

  /** The CIDs of the requests held, oldest first, and the events waiting (migration). */
  snapshot(): { held: number[]; queued: number[] } {
    return { held: [...this.#held], queued: [...this.#queued] };
  }

  /** Takes a snapshot() (migration): the held requests complete here when events come. */
  restore(s: { held: readonly number[]; queued: readonly number[] }): void {
    if (s.held.length > this.limit || s.queued.length > MAX_QUEUED) {
      throw new RangeError(
        `${s.held.length} AERs (limit ${this.limit}) and ${s.queued.length} events (limit ${MAX_QUEUED})`,
      );
    }
    this.#held.splice(0, this.#held.length, ...s.held);
    this.#queued.splice(0, this.#queued.length, ...s.queued);
  }

  /** Controller reset: outstanding requests end without completion, events are dropped. */
  reset(): void {
    this.#held.length = 0;
    this.#queued.length = 0;
  }

  #raise(result: number): void {
    const cid = this.#held.shift();
    if (cid !== undefined) this.#complete(cid, result);
    else if (this.#queued.length < MAX_QUEUED) this.#queued.push(result);
  }
}
