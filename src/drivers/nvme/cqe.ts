/**
 * Completion queue entries (base spec 2.0, figure 89) and the consumer side of a
 * completion ring. The controller marks each new entry with the current phase tag; the
 * tag inverts every time the ring wraps, so the host knows which entries are new
 * without the controller ever writing a head pointer.
 */
import { CQE_SIZE } from "./regs.js";
import { decodeStatus, type NvmeStatus } from "./status.js";

export interface Completion {
  /** Command specific result (dword 0), e.g. the queues granted by Set Features. */
  readonly result: number;
  /** Dword 1, command specific (0 for most commands). */
  readonly result1: number;
  /** How far the controller has consumed the submission queue. */
  readonly sqHead: number;
  readonly sqid: number;
  readonly cid: number;
  readonly phase: 0 | 1;
  /** The 15-bit status field; 0 is success. */
  readonly statusField: number;
}

/** Decodes the 16-byte entry at `offset` of `ring`. */
export function decodeCqe(ring: Uint8Array, offset: number): Completion {
  const v = new DataView(ring.buffer, ring.byteOffset + offset, CQE_SIZE);
  const dw2 = v.getUint32(8, true);
  const dw3 = v.getUint32(12, true);
  return {
    result: v.getUint32(0, true),
    result1: v.getUint32(4, true),
    sqHead: dw2 & 0xffff,
    sqid: dw2 >>> 16,
    cid: dw3 & 0xffff,
    phase: ((dw3 >>> 16) & 1) as 0 | 1,
    statusField: dw3 >>> 17,
  };
}

/** The status of a completion, decoded. */
export function completionStatus(c: Completion): NvmeStatus {
  return decodeStatus(c.statusField);
}

/**
 * The host's side of a completion ring in memory shared with the controller: which
 * slot is the head and which phase tag marks a new entry there. Starts at head 0 with
 * phase 1, as the spec requires of a ring the host zeroed before creating the queue.
 */
export class CompletionRing {
  readonly entries: number;
  readonly #memory: Uint8Array;
  #head = 0;
  #phase: 0 | 1 = 1;

  constructor(memory: Uint8Array, entries: number) {
    if (memory.byteLength < entries * CQE_SIZE) {
      throw new RangeError(
        `completion ring of ${entries} entries needs ${entries * CQE_SIZE} bytes`,
      );
    }
    this.#memory = memory;
    this.entries = entries;
  }

  get head(): number {
    return this.#head;
  }

  get phase(): 0 | 1 {
    return this.#phase;
  }

  /** Whether the entry at the head is new (its phase tag is the one we expect). */
  ready(): boolean {
    const dw3 = this.#memory[this.#head * CQE_SIZE + 14]!;
    return (dw3 & 1) === this.#phase;
  }

  /** Takes the new entry at the head, or null when there is none. */
  pop(): Completion | null {
    if (!this.ready()) return null;
    const c = decodeCqe(this.#memory, this.#head * CQE_SIZE);
    this.#head++;
    if (this.#head === this.entries) {
      this.#head = 0;
      this.#phase = this.#phase === 1 ? 0 : 1;
    }
    return c;
  }
}
