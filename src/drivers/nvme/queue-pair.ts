/**
 * One submission queue and its completion queue, in memory shared with the
 * controller: commands go in with a fresh CID and a tail doorbell write; completions
 * are reaped by phase tag (from an interrupt handler or a poller), matched to their
 * command by CID, and acknowledged with one head doorbell write per batch. A command
 * resolves with its completion or rejects with an NvmeError carrying the status.
 *
 * It knows nothing of the device: doorbells are a callback and the rings are byte
 * arrays, so it can be exercised against a simulated controller.
 */
import { VfioError } from "../../errors.js";
import { CidAllocator } from "./cid-allocator.js";
import { type Completion, CompletionRing, completionStatus } from "./cqe.js";
import { SubmissionRing } from "./sq-ring.js";
import type { NvmeCommand } from "./sqe.js";
import { NvmeError } from "./status.js";

/** Where the queue's doorbell values go (posted register writes). */
export interface QueueDoorbells {
  sqTail(value: number): Promise<void>;
  cqHead(value: number): Promise<void>;
}

export interface QueuePairOptions {
  readonly qid: number;
  readonly entries: number;
  readonly sqMemory: Uint8Array;
  readonly cqMemory: Uint8Array;
  readonly doorbells: QueueDoorbells;
  /** Called after every submission (a poller starts polling). */
  readonly onSubmit?: () => void;
}

interface Pending {
  readonly opcode: number;
  readonly what: string;
  resolve(c: Completion): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Timed out: the caller was told; the CID is freed when the completion comes. */
  abandoned: boolean;
}

export class QueuePair {
  readonly qid: number;
  readonly entries: number;
  readonly sq: SubmissionRing;
  readonly cq: CompletionRing;
  readonly #cids: CidAllocator;
  readonly #doorbells: QueueDoorbells;
  readonly #onSubmit: () => void;
  readonly #pending = new Map<number, Pending>();
  /** Submitters waiting for a free CID and ring slot, in arrival order. */
  readonly #slotWaiters: (() => void)[] = [];
  #failed: Error | null = null;
  #completions = 0;
  #stale = 0;

  constructor(options: QueuePairOptions) {
    this.qid = options.qid;
    this.entries = options.entries;
    this.sq = new SubmissionRing(options.sqMemory, options.entries);
    this.cq = new CompletionRing(options.cqMemory, options.entries);
    // One ring slot stays empty, so no more than entries - 1 commands are outstanding.
    this.#cids = new CidAllocator(options.entries - 1);
    this.#doorbells = options.doorbells;
    this.#onSubmit = options.onSubmit ?? (() => {});
  }

  /** Commands submitted and not completed (timed-out ones included until they complete). */
  get outstanding(): number {
    return this.#cids.inUse;
  }

  /** Completions reaped so far. */
  get completions(): number {
    return this.#completions;
  }

  /** Completions that matched no outstanding command (ignored). */
  get staleCompletions(): number {
    return this.#stale;
  }

  get failed(): Error | null {
    return this.#failed;
  }

  /**
   * Submits `cmd`; resolves with its completion, rejects with an NvmeError for an
   * error status, or ETIMEDOUT after `timeoutMs` (0: never). Waits for a free slot when
   * the queue is full. `what` names the command in errors.
   */
  async submit(cmd: NvmeCommand, what: string, timeoutMs = 0): Promise<Completion> {
    while (this.#failed === null && (this.#cids.inUse >= this.#cids.capacity || this.sq.full)) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    if (this.#failed !== null) throw this.#failed;
    const cid = this.#cids.allocate()!;
    const done = new Promise<Completion>((resolve, reject) => {
      const p: Pending = {
        opcode: cmd.opcode,
        what,
        resolve,
        reject,
        timer: undefined,
        abandoned: false,
      };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          p.abandoned = true;
          reject(
            new VfioError(
              "ETIMEDOUT",
              `${what} (queue ${this.qid}, CID ${cid}) got no completion within ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
      this.#pending.set(cid, p);
    });
    const tail = this.sq.push(cmd, cid);
    // One doorbell per command, on purpose. Ringing once per run of microtasks (one
    // write for a whole batch) cut doorbells from 1 to 0.06 per I/O at queue depth
    // 32, and was slower on an idle machine (median 24.6k against 31.5k IOPS): the
    // queue then moves in lock-step batches, and both processes fall asleep and pay a
    // cold wake-up for each. A doorbell per command keeps the controller busy.
    this.#doorbells.sqTail(tail).catch((err: unknown) => this.fail(asError(err)));
    this.#onSubmit();
    return done;
  }

  /** The CID a command would get next (for Abort tests and traces). */
  get nextCid(): number | undefined {
    const cid = this.#cids.allocate();
    if (cid !== undefined) this.#cids.free(cid);
    return cid;
  }

  /**
   * Takes every new completion, settles its command and acknowledges the batch with
   * one CQ head doorbell write. Returns how many were reaped.
   */
  reap(): number {
    let n = 0;
    for (let c = this.cq.pop(); c !== null; c = this.cq.pop()) {
      n++;
      this.#complete(c);
    }
    if (n > 0) {
      this.#completions += n;
      this.#doorbells.cqHead(this.cq.head).catch((err: unknown) => this.fail(asError(err)));
      this.#wakeSubmitters();
    }
    return n;
  }

  /** Fails every outstanding and waiting command with `err`; later submits fail too. */
  fail(err: Error): void {
    if (this.#failed === null) this.#failed = err;
    for (const [cid, p] of this.#pending) {
      clearTimeout(p.timer);
      if (!p.abandoned) p.reject(err);
      this.#cids.free(cid);
    }
    this.#pending.clear();
    this.#wakeSubmitters();
  }

  #complete(c: Completion): void {
    this.sq.consumedTo(c.sqHead);
    const p = this.#pending.get(c.cid);
    if (p === undefined || c.sqid !== this.qid) {
      this.#stale++;
      return;
    }
    this.#pending.delete(c.cid);
    this.#cids.free(c.cid);
    clearTimeout(p.timer);
    if (p.abandoned) return;
    if (c.statusField === 0) p.resolve(c);
    else p.reject(new NvmeError(completionStatus(c), p.opcode, this.qid === 0, p.what));
  }

  #wakeSubmitters(): void {
    const waiters = this.#slotWaiters.splice(0);
    for (const w of waiters) w();
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
