/**
 * The driver's DMA memory for command data: one Container buffer carved into slots,
 * each big enough for the largest transfer plus the PRP list pages it needs. A
 * command takes a slot, the data is copied in or out of it, and the PRPs point into
 * it; the list pages are written right there before the command is submitted.
 */
import type { Container, DmaBuffer } from "../../client/index.js";
import { buildPrps, dataPages, listPagesNeeded, type PrpSet } from "./prp.js";
import { PAGE_SIZE } from "./regs.js";
import { SlotPool } from "./slot-pool.js";

/** A taken slot: its data bytes (a view of the shared memory) and their IOVA. */
export interface TransferSlot {
  readonly index: number;
  readonly data: Uint8Array;
  readonly iova: bigint;
}

export class TransferArea {
  /** Largest transfer of one slot, in bytes (a multiple of the page size). */
  readonly slotBytes: number;
  readonly #buffer: DmaBuffer;
  readonly #listPages: number;
  readonly #stride: number;
  readonly #pool: SlotPool;

  static async allocate(
    container: Container,
    slots: number,
    slotBytes: number,
  ): Promise<TransferArea> {
    const bytes = Math.ceil(slotBytes / PAGE_SIZE) * PAGE_SIZE;
    const listPages = listPagesNeeded(bytes / PAGE_SIZE, PAGE_SIZE);
    const stride = bytes + listPages * PAGE_SIZE;
    const buffer = await container.allocateBuffer(stride * slots, { name: "nvme-data" });
    return new TransferArea(buffer, slots, bytes, listPages, stride);
  }

  private constructor(
    buffer: DmaBuffer,
    slots: number,
    slotBytes: number,
    listPages: number,
    stride: number,
  ) {
    this.#buffer = buffer;
    this.slotBytes = slotBytes;
    this.#listPages = listPages;
    this.#stride = stride;
    this.#pool = new SlotPool(slots);
  }

  get slots(): number {
    return this.#pool.size;
  }

  async acquire(): Promise<TransferSlot> {
    const index = await this.#pool.acquire();
    const offset = index * this.#stride;
    return {
      index,
      data: new Uint8Array(this.#buffer.buffer, offset, this.slotBytes),
      iova: this.#buffer.iova + BigInt(offset),
    };
  }

  release(slot: TransferSlot): void {
    this.#pool.release(slot.index);
  }

  /** Runs `fn` with a slot, releasing it however `fn` ends. */
  async with<T>(fn: (slot: TransferSlot) => Promise<T>): Promise<T> {
    const slot = await this.acquire();
    try {
      return await fn(slot);
    } finally {
      this.release(slot);
    }
  }

  /** PRPs for the first `length` bytes of `slot`, with its list pages written. */
  prps(slot: TransferSlot, length: number): PrpSet {
    if (length > this.slotBytes) throw new RangeError(`transfer of ${length} bytes exceeds a slot`);
    const pages = dataPages(slot.iova, length, PAGE_SIZE);
    const listBase = slot.index * this.#stride + this.slotBytes;
    const listIovas: bigint[] = [];
    for (let i = 0; i < this.#listPages; i++) {
      listIovas.push(this.#buffer.iova + BigInt(listBase + i * PAGE_SIZE));
    }
    const set = buildPrps(pages, listIovas, PAGE_SIZE);
    set.lists.forEach((l, i) => {
      const at = listBase + i * PAGE_SIZE;
      new BigUint64Array(this.#buffer.buffer, at, PAGE_SIZE / 8).set(l.entries);
    });
    return set;
  }

  free(): Promise<void> {
    return this.#buffer.free();
  }
}
