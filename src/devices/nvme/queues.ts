/**
 * Submission and completion queues as the controller sees them (NVMe Base 1.4,
 * section 4.1): rings in host memory with a head and a tail, the phase tag of a
 * completion queue, and the doorbell checks.
 *
 * A completion is given its slot the moment it is posted, so completions that finish
 * out of order still fill the ring in order; a full completion queue (tail one behind
 * the head the host last rang) keeps further completions waiting until the host frees
 * entries. Any fault on queue memory is fatal to the controller: it cannot report the
 * error through the queue it failed to reach.
 */
import type { DeviceDma } from "../../server/index.js";
import { encodeCqe } from "./entries.js";
import { CQE_SIZE, SQE_SIZE } from "./regs.js";

export interface QueueHost {
  readonly dma: DeviceDma;
  /** Queue memory faulted: the controller sets CSTS.CFS. */
  fatal(reason: string): void;
  /** New entries were written to `cq`: raise its interrupt. */
  notify(cq: CompletionQueue): void;
}

export class SubmissionQueue {
  readonly id: number;
  readonly base: bigint;
  readonly size: number;
  readonly cq: CompletionQueue;
  head = 0;
  tail = 0;
  /** A fetch loop is running for this queue. */
  fetching = false;
  /** Being deleted: fetch nothing more. */
  deleted = false;
  #inflight = 0;
  #idle: (() => void)[] = [];

  constructor(id: number, base: bigint, size: number, cq: CompletionQueue) {
    this.id = id;
    this.base = base;
    this.size = size;
    this.cq = cq;
  }

  get empty(): boolean {
    return this.head === this.tail;
  }

  /** Entries from the head up to the tail or the end of the ring, at most `max`. */
  contiguous(max: number): number {
    const end = this.tail >= this.head ? this.tail : this.size;
    return Math.min(max, end - this.head);
  }

  entryAddress(index: number): bigint {
    return this.base + BigInt(index * SQE_SIZE);
  }

  /** A command fetched from this queue started / completed. */
  started(): void {
    this.#inflight++;
  }

  finished(): void {
    if (--this.#inflight === 0 && !this.fetching) for (const w of this.#idle.splice(0)) w();
  }

  /** The fetch loop stopped. */
  stoppedFetching(): void {
    this.fetching = false;
    if (this.#inflight === 0) for (const w of this.#idle.splice(0)) w();
  }

  /** Resolves when nothing is being fetched or executed. */
  idle(): Promise<void> {
    if (this.#inflight === 0 && !this.fetching) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }
}

interface Waiting {
  readonly sq: SubmissionQueue;
  readonly cid: number;
  readonly result: number;
  readonly status: number;
}

export class CompletionQueue {
  readonly id: number;
  readonly base: bigint;
  readonly size: number;
  readonly vector: number;
  /** Interrupts enabled (IEN). */
  readonly ien: boolean;
  /** Submission queues that post here. */
  readonly sqs = new Set<number>();
  tail = 0;
  head = 0;
  phase = 1;
  readonly #host: QueueHost;
  #waiting: Waiting[] = [];
  /** Commands running whose completion will come here (see hasRoom). */
  #reserved = 0;
  #writes = 0;
  #settled: (() => void)[] = [];

  constructor(
    host: QueueHost,
    id: number,
    base: bigint,
    size: number,
    vector: number,
    ien: boolean,
  ) {
    this.#host = host;
    this.id = id;
    this.base = base;
    this.size = size;
    this.vector = vector;
    this.ien = ien;
  }

  /** Entries posted that the host has not yet released with the head doorbell. */
  get outstanding(): boolean {
    return this.tail !== this.head || this.#writes > 0;
  }

  get full(): boolean {
    return (this.tail + 1) % this.size === this.head;
  }

  /**
   * Room for one more command's completion: the entries posted and not released, the
   * completions waiting and the commands running towards this queue (reserve()) leave
   * a slot. The controller fetches a command only then, so a host that never releases
   * completions stalls its submission queues instead of growing the waiting list.
   */
  get hasRoom(): boolean {
    const posted = (this.tail - this.head + this.size) % this.size;
    return posted + this.#waiting.length + this.#reserved < this.size - 1;
  }

  /** A command fetched will complete here: hold its slot until it posts (release()). */
  reserve(): void {
    this.#reserved++;
  }

  release(): void {
    this.#reserved--;
  }

  /** Completions held back while the queue is full, oldest first (for migration). */
  get waiting(): readonly { sqid: number; cid: number; result: number; status: number }[] {
    return this.#waiting.map((w) => ({
      sqid: w.sq.id,
      cid: w.cid,
      result: w.result,
      status: w.status,
    }));
  }

  /** Restores held-back completions (migration); `sqs` finds their submission queues. */
  restoreWaiting(
    list: readonly { sqid: number; cid: number; result: number; status: number }[],
    sqs: ReadonlyMap<number, SubmissionQueue>,
  ): void {
    this.#waiting = list.map((w) => ({ ...w, sq: sqs.get(w.sqid)! }));
  }

  /** Resolves once every entry written so far has reached host memory (and notified). */
  settled(): Promise<void> {
    if (this.#writes === 0) return Promise.resolve();
    return new Promise((r) => this.#settled.push(r));
  }

  post(sq: SubmissionQueue, cid: number, result: number, status: number): void {
    if (this.full || this.#waiting.length > 0) {
      this.#waiting.push({ sq, cid, result, status });
      return;
    }
    this.#write(sq, cid, result, status);
  }

  /** The host rang the head doorbell; false when the value is beyond the queue. */
  setHead(value: number): boolean {
    if (value >= this.size) return false;
    this.head = value;
    while (this.#waiting.length > 0 && !this.full) {
      const w = this.#waiting.shift()!;
      this.#write(w.sq, w.cid, w.result, w.status);
    }
    return true;
  }

  #write(sq: SubmissionQueue, cid: number, result: number, status: number): void {
    const slot = this.tail;
    const { head, dw3 } = encodeCqe(result, sq.head, sq.id, cid, this.phase, status);
    this.tail = (this.tail + 1) % this.size;
    if (this.tail === 0) this.phase ^= 1;
    const at = this.base + BigInt(slot * CQE_SIZE);
    this.#writes++;
    const dma = this.#host.dma;
    dma
      .write(at, head)
      .then(() => dma.write(at + 12n, dw3))
      .then(
        () => {
          if (--this.#writes === 0) {
            this.#host.notify(this);
            for (const w of this.#settled.splice(0)) w();
          }
        },
        (err: unknown) => {
          this.#host.fatal(`CQ ${this.id} entry ${slot}: ${(err as Error).message}`);
          if (--this.#writes === 0) for (const w of this.#settled.splice(0)) w();
        },
      );
  }
}
