/**
 * The host's side of a submission ring: where the next entry goes (the tail the host
 * rings in the doorbell) and how far the controller has fetched (the SQ head it reports
 * in every completion). One slot always stays empty, so a full ring and an empty one
 * differ: it holds at most entries - 1 commands.
 */
import { SQE_SIZE } from "./regs.js";
import { encodeSqe, type NvmeCommand } from "./sqe.js";

export class SubmissionRing {
  readonly entries: number;
  readonly #memory: Uint8Array;
  #tail = 0;
  #head = 0;

  constructor(memory: Uint8Array, entries: number) {
    if (entries < 2) throw new RangeError(`a submission ring needs at least 2 entries`);
    if (memory.byteLength < entries * SQE_SIZE) {
      throw new RangeError(
        `submission ring of ${entries} entries needs ${entries * SQE_SIZE} bytes`,
      );
    }
    this.#memory = memory;
    this.entries = entries;
  }

  get tail(): number {
    return this.#tail;
  }

  get head(): number {
    return this.#head;
  }

  /** Entries written and not yet fetched by the controller (as far as we know). */
  get used(): number {
    return (this.#tail - this.#head + this.entries) % this.entries;
  }

  get full(): boolean {
    return this.used === this.entries - 1;
  }

  /** Writes `cmd` at the tail and advances it; returns the new tail for the doorbell. */
  push(cmd: NvmeCommand, cid: number): number {
    if (this.full) throw new RangeError("submission ring is full");
    encodeSqe(this.#memory, this.#tail * SQE_SIZE, cmd, cid);
    this.#tail = (this.#tail + 1) % this.entries;
    return this.#tail;
  }

  /**
   * Records the SQ head a completion reported. A value outside the ring, or one that
   * would move the head past the tail, is ignored: the controller is not trusted to
   * free slots we have not filled.
   */
  consumedTo(head: number): void {
    if (!Number.isInteger(head) || head < 0 || head >= this.entries) return;
    const advance = (head - this.#head + this.entries) % this.entries;
    if (advance <= this.used) this.#head = head;
  }
}
